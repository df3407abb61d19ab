package eventsink_test

import (
	"io"
	"log"
	"net/http"
	"os"
	"strings"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Example_receiver is the receiver of docs/events.md: it checks the Standard Webhooks signature, then reads the
// CloudEvent (binary or structured mode) with the CloudEvents SDK. It is compiled, so that the docs stay true.
func Example_receiver() {
	// The Secret's value: whsec_<base64> (NewWebhook); a raw key would use NewWebhookRaw([]byte(key)).
	wh, err := standardwebhooks.NewWebhook(os.Getenv("CONCH_WEBHOOK_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	seen := map[string]bool{} // a real receiver keeps IDs in its database, with the effect of the event
	http.HandleFunc("/conch", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// Verify checks the HMAC over "id.timestamp.body" and refuses timestamps more than 5 minutes off.
		if err := wh.Verify(body, r.Header); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized) // a 4xx: Conch gives up on this event
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if seen[ev.ID()] { // a retry of an event already handled: say yes again
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var data struct {
			Holder, Resource, Reason string
		}
		if err := ev.DataAs(&data); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		log.Printf("%s: %s on %s (%s)", ev.Type(), data.Holder, data.Resource, data.Reason)
		seen[ev.ID()] = true
		w.WriteHeader(http.StatusNoContent) // any 2xx: delivered
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
