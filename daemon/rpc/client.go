package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// ErrNoDaemon is returned when nothing answers at the client's address.
var ErrNoDaemon = errors.New("no swarm daemon")

// Client calls a Transmission RPC server: swarm's, or Transmission's.
type Client struct {
	// Addr is HOST:PORT of the server.
	Addr string
	// User and Password, if set, are sent as HTTP Basic auth.
	User, Password string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client

	mu        sync.Mutex // guards sessionID
	sessionID string
}

// Call runs method with args and decodes the answer's arguments into out
// (nil to ignore them). A result other than "success" is an error.
func (c *Client) Call(ctx context.Context, method string, args, out any) error {
	body, err := json.Marshal(map[string]any{"method": method, "arguments": args})
	if err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	url := "http://" + c.Addr + Path
	for range 2 { // the second try carries the session id a 409 gave
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		c.mu.Lock()
		req.Header.Set(sessionHeader, c.sessionID)
		c.mu.Unlock()
		if c.Password != "" || c.User != "" {
			req.SetBasicAuth(c.User, c.Password)
		}
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w at %s (%v): start one with 'swarm daemon'", ErrNoDaemon, c.Addr, err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, DefaultMaxBody))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("read the answer of %s: %w", c.Addr, err)
		}
		switch resp.StatusCode {
		case http.StatusConflict:
			c.mu.Lock()
			c.sessionID = resp.Header.Get(sessionHeader)
			c.mu.Unlock()
			continue
		case http.StatusUnauthorized:
			return fmt.Errorf("the daemon at %s refused the credentials: give --rpc-user and --rpc-password", c.Addr)
		case http.StatusOK:
		default:
			return fmt.Errorf("%s %s: %s: %s", method, c.Addr, resp.Status, bytes.TrimSpace(data))
		}
		var r struct {
			Result    string          `json:"result"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s: the answer of %s is not JSON: %w", method, c.Addr, err)
		}
		if r.Result != "success" {
			return fmt.Errorf("%s: %s", method, r.Result)
		}
		if out != nil {
			if err := json.Unmarshal(r.Arguments, out); err != nil {
				return fmt.Errorf("%s: unexpected arguments in the answer: %w", method, err)
			}
		}
		return nil
	}
	return fmt.Errorf("%s: %s kept refusing the session id", method, c.Addr)
}
