package eventsink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Signing, the Standard Webhooks way (https://www.standardwebhooks.com): three headers, so that a receiver can
// check with any Standard Webhooks library that a request comes from Conch, is not altered, and is fresh.
const (
	// HeaderWebhookID is the event's ID, the same on every retry: receivers de-duplicate on it.
	HeaderWebhookID = "webhook-id"
	// HeaderWebhookTimestamp is when this attempt was signed, in Unix seconds.
	HeaderWebhookTimestamp = "webhook-timestamp"
	// HeaderWebhookSignature is "v1,<base64 of HMAC-SHA256(key, id + "." + timestamp + "." + body)>".
	HeaderWebhookSignature = "webhook-signature"
)

// keyPrefix marks a key given the Standard Webhooks way: whsec_ followed by the key in base64.
const keyPrefix = "whsec_"

// keyError says a Secret's value is not a usable key.
type keyError struct{ msg string }

func (e keyError) Error() string { return e.msg }

// errEmptyKey: a Secret's key holds nothing.
var errEmptyKey = keyError{"the signing key is empty"}

// ParseSigningKey returns the HMAC key that a Secret's value stands for: "whsec_<base64>" is the base64-decoded
// bytes, as Standard Webhooks libraries read it (NewWebhook); anything else is the key's raw bytes (NewWebhookRaw),
// trailing newlines trimmed (as `kubectl create secret --from-file` of an edited file would leave one).
func ParseSigningKey(v []byte) ([]byte, error) {
	s := strings.TrimRight(string(v), "\r\n")
	if b64, ok := strings.CutPrefix(s, keyPrefix); ok {
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, keyError{"the signing key starts with whsec_ but the rest is not base64"}
		}
		if len(k) == 0 {
			return nil, errEmptyKey
		}
		return k, nil
	}
	if s == "" {
		return nil, errEmptyKey
	}
	return []byte(s), nil
}

// Signature returns the webhook-signature value for a request with id, signed at ts, with body.
func Signature(key []byte, id string, ts time.Time, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	h.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// sign sets the three Standard Webhooks headers on h. Requests without a key carry the id only, which receivers
// may still de-duplicate on.
func sign(h http.Header, key []byte, id string, ts time.Time, body []byte) {
	h.Set(HeaderWebhookID, id)
	if key == nil {
		return
	}
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderWebhookSignature, Signature(key, id, ts, body))
}
