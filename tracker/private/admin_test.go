package private_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"swarm/tracker/private"
)

// TestUserViewJSON: the field names admin tools print (swarm tracker user
// show --json), a null ratio without downloads, and the announce URLs in
// both forms.
func TestUserViewJSON(t *testing.T) {
	db, _ := openDB(t)
	alice := addUser(t, db, "alice")
	alice.Totals = private.Totals{Uploaded: 300, SeedSeconds: 60}
	alice.Raw = private.Raw{RawUploaded: 150, RawDownloaded: 20} // double upload, freeleech
	per := []private.TorrentTotals{{InfoHash: ihA, Name: "a", Totals: private.Totals{Uploaded: 300, Downloaded: 100, Snatches: 1},
		Raw: private.Raw{RawUploaded: 300, RawDownloaded: 100}}}
	b, err := json.Marshal(private.ViewUserDetail(alice, "http://t.example:6969", per))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		`"name":"alice"`, `"disabled":false`,
		`"announce_url":"http://t.example:6969/` + alice.Passkey.String() + `/announce"`,
		`"announce_query_url":"http://t.example:6969/announce?passkey=` + alice.Passkey.String() + `"`,
		`"torrents":[{"info_hash":"` + ihA.String() + `","name":"a","uploaded":300,"downloaded":100,"ratio":3,"snatches":1,"seed_seconds":0,"raw_uploaded":300,"raw_downloaded":100}]`,
		`"uploaded":300,"downloaded":0,"ratio":null,"snatches":0,"seed_seconds":60,"raw_uploaded":150,"raw_downloaded":20}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ViewUserDetail as JSON = %s\nwant it to hold %s", got, want)
		}
	}
	if b, _ := json.Marshal(private.ViewUser(alice)); strings.Contains(string(b), "announce") || strings.Contains(string(b), "torrents") {
		t.Errorf("ViewUser as JSON = %s, want no announce URLs or torrents (a list shows none)", b)
	}
}

// TestAnnounceBaseOr: --public-url first, then the URL the tracker
// recorded, then a placeholder; CheckBaseURL refuses what cannot be one.
func TestAnnounceBaseOr(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	if b, err := db.AnnounceBaseOr(ctx, ""); err != nil || b != private.PlaceholderBase {
		t.Errorf("AnnounceBaseOr with nothing recorded = %q, %v; want %q", b, err, private.PlaceholderBase)
	}
	if err := db.SetAnnounceBase(ctx, "http://recorded:6969"); err != nil {
		t.Fatal(err)
	}
	if b, _ := db.AnnounceBaseOr(ctx, ""); b != "http://recorded:6969" {
		t.Errorf("AnnounceBaseOr after the tracker recorded one = %q", b)
	}
	if b, _ := db.AnnounceBaseOr(ctx, "https://public.example/"); b != "https://public.example" {
		t.Errorf("AnnounceBaseOr with a public URL = %q, want it without its slash", b)
	}
	for _, bad := range []string{"tracker.example:6969", "http://t.example/?x=1", "ftp://t.example"} {
		if _, err := private.CheckBaseURL(bad); err == nil {
			t.Errorf("CheckBaseURL(%q) = nil error, want one", bad)
		}
	}
}
