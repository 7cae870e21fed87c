package private

import "testing"

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"UPDATE users SET disabled = ? WHERE name = ?", "UPDATE users SET disabled = $1 WHERE name = $2"},
		{"SELECT '?', \"a?\" FROM t WHERE x = ?", "SELECT '?', \"a?\" FROM t WHERE x = $1"},
		{"SELECT 'it''s?' WHERE a = ?", "SELECT 'it''s?' WHERE a = $1"},
		{"-- who's there?\nSELECT ? -- and here?", "-- who's there?\nSELECT $1 -- and here?"},
		{"SELECT x - ? FROM t", "SELECT x - $1 FROM t"},
		{"SELECT 'unterminated ?", "SELECT 'unterminated ?"},
	}
	for _, tt := range tests {
		if got := rebind(tt.in); got != tt.want {
			t.Errorf("rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestMigrationsMatch: every schema step has its PostgreSQL form, so both
// stores are at the same version with the same tables.
func TestMigrationsMatch(t *testing.T) {
	if len(migrations) != len(pgMigrations) {
		t.Errorf("%d SQLite migrations, %d PostgreSQL ones: port the new step to pgMigrations (postgres.go)", len(migrations), len(pgMigrations))
	}
}

func TestRedacted(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tracker.db", "tracker.db"},
		{"postgres://swarm:secret@db:5432/swarm", "postgres://swarm:xxxxx@db:5432/swarm"},
		{"postgresql://db/swarm?password=secret&sslmode=disable", "postgresql://db/swarm?password=xxxxx&sslmode=disable"},
	}
	for _, tt := range tests {
		if got := Redacted(tt.in); got != tt.want {
			t.Errorf("Redacted(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
