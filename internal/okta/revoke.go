package okta

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// RemoveResult is the outcome of one membership removal.
type RemoveResult struct {
	Status    string // "removed" (204) or "already_absent" (404 E0000007 on an existing group)
	RequestID string // Okta's X-Okta-Request-Id of the DELETE, for the evidence
}

// RemoveMember removes user userID from group groupID
// (DELETE /api/v1/groups/{gid}/users/{uid}). Okta answers 204 both for a
// member and, as far as is known, for a non-member; a 404 whose summary
// names the membership rather than the group or user also counts as
// already absent. The caller proves the outcome with [Client.IsMember].
// Errors: *httpx.StatusError (403 E0000006 for APP_GROUP/BUILT_IN groups,
// 404 for an unknown group or user, IsAuth for 401/403).
func (c *Client) RemoveMember(ctx context.Context, groupID, userID string) (RemoveResult, error) {
	path := "/api/v1/groups/" + url.PathEscape(groupID) + "/users/" + url.PathEscape(userID)
	re := c.sdk.CloneRequestExecutor()
	req, err := re.NewRequest("DELETE", path, nil)
	if err != nil {
		return RemoveResult{}, c.tokenError(err)
	}
	resp, err := re.Do(ctx, req, nil)
	var id string
	if resp != nil && resp.Response != nil {
		id = resp.Header.Get("X-Okta-Request-Id")
	}
	if err != nil {
		se := c.callError("DELETE", path, resp, err)
		if resp != nil && resp.StatusCode == http.StatusNotFound && !contains404Object(se) {
			return RemoveResult{Status: "already_absent", RequestID: id}, nil
		}
		return RemoveResult{RequestID: id}, se
	}
	return RemoveResult{Status: "removed", RequestID: id}, nil
}

// contains404Object reports whether a 404 names the group or the user as
// the missing resource (a real error) rather than the membership.
func contains404Object(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "(UserGroup)") || strings.Contains(msg, "(User)")
}

// IsMember re-reads the group's members (cache off, every page) and
// reports whether userID is among them.
func (c *Client) IsMember(ctx context.Context, groupID, userID string) (bool, error) {
	found := false
	path := "/api/v1/groups/" + url.PathEscape(groupID) + "/users?limit=" + strconv.Itoa(c.cfg.PageSize)
	_, _, _, err := c.listPages(ctx, path, func(body []byte) (int64, error) {
		var us []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &us); err != nil {
			return 0, fmt.Errorf("decode: %w", err)
		}
		for _, u := range us {
			if u.ID == userID {
				found = true
			}
		}
		return int64(len(us)), nil
	}, func(string, string) error { return nil })
	return found, err
}
