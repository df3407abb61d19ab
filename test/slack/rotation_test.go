package slack

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/conch-dev/conch/internal/slackbot"
)

// TestTokensRotateByUpdatingTheSecret starts the manager with a Secret holding revoked tokens (Slack refuses
// them), then puts the right ones in the Secret: the manager reconnects with them, without a restart.
func TestTokensRotateByUpdatingTheSecret(t *testing.T) {
	var secret *corev1.Secret
	h := setupWith(t, func(h *harness) {
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "conch-slack"},
			Data: map[string][]byte{
				slackbot.KeyBotToken: []byte("xoxb-revoked"),
				slackbot.KeyAppToken: []byte("xapp-revoked"),
			},
		}
		h.create(secret)
		h.secret = h.ns + "/conch-slack"
	})
	h.consistently(func() int { return h.slack.OpenConnections() }).Should(Equal(0), "Slack refuses the revoked token")

	patch := client.MergeFrom(secret.DeepCopy())
	secret.Data[slackbot.KeyBotToken] = []byte(h.slack.BotToken())
	secret.Data[slackbot.KeyAppToken] = []byte(h.slack.AppToken())
	NewWithT(t).Expect(k8s.Patch(ctx, secret, patch)).To(Succeed())
	h.eventually(func() int { return h.slack.OpenConnections() }).Should(Equal(1))

	h.create(h.resource("staging").Obj())
	h.dibs(alice, "staging")
	NewWithT(t).Expect(h.nthReply(alice, 1).Text).To(ContainSubstring("took *staging*"))
	h.eventually(h.dmTexts(alice)).Should(containing("You now hold *staging*"), "the Web API uses the new bot token too")
}
