package eventsink

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The SSRF stance. An EventSink makes the manager send requests to an address that whoever may create EventSinks
// chooses, from inside the cluster, with the manager's network position. So the manager refuses, at the moment it
// connects (after DNS, so that a name that resolves to something else the second time gains nothing), addresses
// that reach what a namespace editor must not: the node's and the Pod's own loopback, link-local addresses (cloud
// metadata services at 169.254.169.254 and fd00:ec2::254 included), "this host" (0.0.0.0, ::), and the
// Kubernetes API server (the host the manager itself talks to, and $KUBERNETES_SERVICE_HOST, the kubernetes
// Service's ClusterIP). An administrator can allow ranges with --event-sink-allowed-cidrs, which win over the
// refusals (127.0.0.0/8 for a receiver on the same machine in tests).

// deniedPrefixes are refused unless allowed.
var deniedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network": 0.0.0.0 connects to the host itself
	netip.MustParsePrefix("127.0.0.0/8"),        // loopback
	netip.MustParsePrefix("169.254.0.0/16"),     // link-local, cloud metadata (169.254.169.254)
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud's metadata service
	netip.MustParsePrefix("::/128"),             // unspecified
	netip.MustParsePrefix("::1/128"),            // loopback
	netip.MustParsePrefix("fe80::/10"),          // link-local
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS's metadata service over IPv6
}

// Guard decides which addresses the manager may connect to for EventSinks. Its zero value refuses the default
// ranges and allows the rest. It is not changed once deliveries start.
type Guard struct {
	allowed   []netip.Prefix
	apiServer []netip.Addr
}

// NewGuard returns a Guard that allows the allowed ranges even where it would refuse them, and refuses
// apiServer's addresses besides the default ranges.
func NewGuard(allowed []netip.Prefix, apiServer ...netip.Addr) *Guard {
	g := &Guard{allowed: slices.Clone(allowed)}
	for _, a := range apiServer {
		g.DenyAPIServer(a)
	}
	return g
}

// DenyAPIServer adds an address of the Kubernetes API server to those refused.
func (g *Guard) DenyAPIServer(a netip.Addr) {
	a = a.Unmap()
	if a.IsValid() && !slices.Contains(g.apiServer, a) {
		g.apiServer = append(g.apiServer, a)
	}
}

// AddressError says an address was refused by the guard.
type AddressError struct {
	Addr netip.Addr
	Why  string
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("connecting to %s is not allowed: %s (an administrator can allow it with --event-sink-allowed-cidrs)", e.Addr, e.Why)
}

// Check returns an *AddressError when the manager must not connect to a, else nil.
func (g *Guard) Check(a netip.Addr) error {
	a = a.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	for _, p := range g.allowed {
		if p.Contains(a) {
			return nil
		}
	}
	if slices.Contains(g.apiServer, a) {
		return &AddressError{Addr: a, Why: "it is the Kubernetes API server"}
	}
	for _, p := range deniedPrefixes {
		if p.Contains(a) {
			return &AddressError{Addr: a, Why: deniedWhy(a)}
		}
	}
	return nil
}

func deniedWhy(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "a loopback address"
	case a.IsLinkLocalUnicast():
		return "a link-local address (cloud metadata services live there)"
	case a.IsUnspecified() || (a.Is4() && a.As4()[0] == 0):
		return "an address of this host"
	default:
		return "a cloud metadata service"
	}
}

// control is a net.Dialer Control function: it runs after name resolution, on the address actually dialled.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dialling %q: %w", address, err)
	}
	return g.Check(ap.Addr())
}

// Dialer returns a dialer that refuses what g refuses, at connect time.
func (g *Guard) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
}

// CheckHost resolves host (a name or an IP literal) and returns the first refusal of its addresses, so that the
// status controller can tell a sink's owner before any delivery; nil when it resolves to allowed addresses or does
// not resolve (deliveries will say why).
func (g *Guard) CheckHost(ctx context.Context, r *net.Resolver, host string) error {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return g.Check(a)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if err := g.Check(a); err != nil {
			return err
		}
	}
	return nil
}

// APIServerAddrs returns the addresses of the API server that the manager knows of: the host of its own
// rest.Config (restHost, a URL or host[:port], resolved when it is a name) and $KUBERNETES_SERVICE_HOST, the
// kubernetes Service's ClusterIP in a Pod.
func APIServerAddrs(ctx context.Context, restHost string) []netip.Addr {
	var hosts []string
	if restHost != "" {
		h := restHost
		if u, err := url.Parse(restHost); err == nil && u.Host != "" {
			h = u.Host
		}
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		hosts = append(hosts, strings.Trim(h, "[]"))
	}
	if h := os.Getenv("KUBERNETES_SERVICE_HOST"); h != "" {
		hosts = append(hosts, h)
	}
	var out []netip.Addr
	for _, h := range hosts {
		if a, err := netip.ParseAddr(h); err == nil {
			out = append(out, a.Unmap())
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
		cancel()
		for _, a := range addrs {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// ParseCIDRs parses a comma-separated list of CIDRs (a flag's value); a bare address is a /32 or /128.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR or an IP address", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", f)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
