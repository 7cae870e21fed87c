package adminapi

import (
	"context"
	"net/http"

	"swarm/tracker/private"
)

// userJSON is a user as the API shows them: private.UserView (totals,
// ratio, snatches, seeding time; announce URLs and per-torrent totals for
// one user) with their class and live peers.
type userJSON struct {
	ID int64 `json:"id"`
	private.UserView
	// Passkey is shown with one user's detail and when it was just set.
	Passkey  string `json:"passkey,omitempty"`
	CanLeech bool   `json:"can_leech"`
	// Seeding and Leeching are the user's peers (client, torrent) now
	// announcing as a seeder and as a leecher.
	Seeding  int `json:"seeding"`
	Leeching int `json:"leeching"`
}

func (a *API) userJSON(u private.User, class private.Class, act private.Activity) userJSON {
	return userJSON{ID: u.ID, UserView: private.ViewUser(u), CanLeech: class.CanLeech,
		Seeding: act.Seeding, Leeching: act.Leeching}
}

// userDetail is one user with passkey, announce URLs and per-torrent
// totals.
func (a *API) userDetail(ctx context.Context, name string) (userJSON, error) {
	u, err := a.cfg.DB.User(ctx, name)
	if err != nil {
		return userJSON{}, err
	}
	per, err := a.cfg.DB.UserTorrents(ctx, u.ID)
	if err != nil {
		return userJSON{}, err
	}
	base, err := a.cfg.DB.AnnounceBaseOr(ctx, "")
	if err != nil {
		return userJSON{}, err
	}
	classes, err := a.cfg.DB.Classes(ctx)
	if err != nil {
		return userJSON{}, err
	}
	_, byUser := a.cfg.Live.Activity()
	v := a.userJSON(u, classes[u.ID], byUser[u.ID])
	v.UserView = private.ViewUserDetail(u, base, per)
	v.Passkey = u.Passkey.String()
	return v, nil
}

// GET /api/users: every user with their totals, class and live peers.
func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := a.cfg.DB.Users(r.Context())
	if err != nil {
		return err
	}
	classes, err := a.cfg.DB.Classes(r.Context())
	if err != nil {
		return err
	}
	_, byUser := a.cfg.Live.Activity()
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, a.userJSON(u, classes[u.ID], byUser[u.ID]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// POST /api/users: create a user, with the passkey given or a new one.
func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	req, passkey, err := decodeUserCreate(body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := a.cfg.DB.CreateUser(ctx, req.Name, passkey); err != nil {
		return err
	}
	if req.CanLeech != nil && !*req.CanLeech {
		if err := a.cfg.DB.SetClass(ctx, req.Name, private.Class{CanLeech: false}); err != nil {
			return err
		}
	}
	if req.Disabled {
		if err := a.cfg.DB.SetDisabled(ctx, req.Name, true); err != nil {
			return err
		}
	}
	a.changed(r, "user "+req.Name+" created")
	v, err := a.userDetail(ctx, req.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/users/"+req.Name)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// GET /api/users/{name}: one user with passkey, announce URLs and totals
// per torrent.
func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	v, err := a.userDetail(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// PATCH /api/users/{name}: disable or enable, set the class.
func (a *API) patchUser(w http.ResponseWriter, r *http.Request) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := decodeUserPatch(body)
	if err != nil {
		return err
	}
	ctx, name := r.Context(), r.PathValue("name")
	if req.Disabled != nil {
		if err := a.cfg.DB.SetDisabled(ctx, name, *req.Disabled); err != nil {
			return err
		}
	}
	if req.CanLeech != nil {
		if err := a.cfg.DB.SetClass(ctx, name, private.Class{CanLeech: *req.CanLeech}); err != nil {
			return err
		}
	}
	a.changed(r, "user "+name+" changed")
	v, err := a.userDetail(ctx, name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// DELETE /api/users/{name}.
func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := a.cfg.DB.DeleteUser(r.Context(), name); err != nil {
		return err
	}
	a.changed(r, "user "+name+" deleted")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// POST /api/users/{name}/passkey: a new passkey; the old one stops working.
func (a *API) resetPasskey(w http.ResponseWriter, r *http.Request) error {
	ctx, name := r.Context(), r.PathValue("name")
	if _, err := a.cfg.DB.ResetPasskey(ctx, name); err != nil {
		return err
	}
	a.changed(r, "user "+name+" given a new passkey")
	v, err := a.userDetail(ctx, name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
