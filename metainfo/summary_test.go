package metainfo

import "testing"

func TestTreeSumsFoldersSortsAndSkipsPadding(t *testing.T) {
	in := &Info{Name: "album", MultiFile: true, Files: []File{
		{Path: []string{"z.txt"}, Length: 2},
		{Path: []string{".pad", "5"}, Length: 5, Padding: true},
		{Path: []string{"disc", "b.flac"}, Length: 30},
		{Path: []string{"disc", "a.flac"}, Length: 10},
	}}
	root := in.Tree()
	if root.Name != "album" || root.Size != 42 || len(root.Children) != 2 {
		t.Fatalf("root = %s %d with %d children, want album 42 with 2", root.Name, root.Size, len(root.Children))
	}
	disc := root.Children[0]
	if disc.Name != "disc" || disc.Size != 40 || disc.Children[0].Name != "a.flac" || disc.Children[1].Name != "b.flac" {
		t.Errorf("first child = %+v, want disc (40) holding a.flac then b.flac", disc)
	}
	if in.Padding() != 5 {
		t.Errorf("Padding = %d, want 5", in.Padding())
	}
	s := (&MetaInfo{Info: *in}).Summary()
	if len(s.Files) != 4 || s.Files[2].Path != "disc/b.flac" || !s.Files[1].Padding || s.Trackers == nil || s.WebSeeds == nil {
		t.Errorf("Summary = %+v: want 4 files in order, the pad file marked, empty (not nil) lists", s)
	}
}
