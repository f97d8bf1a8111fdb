// Command go-mdns is a Go mDNS peer for the LAN tests, built on
// github.com/hashicorp/mdns (the library Go Micro's mdns registry forked).
//
// It runs inside a test network namespace and talks only on that LAN.
//
//	go-mdns serve -instance NAME -service SVC [-domain local.] -port N
//	              [-host NAME.] -ip ADDR [-ip ADDR...] [-txt k=v ...] [-iface eth0]
//	go-mdns query -service SVC [-domain local] [-timeout 1s] [-unicast] [-iface eth0] [-gomicro]
//	go-mdns serve -gomicro '{"service":"greeter","version":"1.0.0","id":"greeter-1",
//	              "endpoints":[...],"metadata":{...}}' -port N -ip ADDR
//
// With -gomicro, serve publishes a node exactly as Go Micro's mdns registry does (domain
// micro, instance <id>.<service>.micro., TXT = hex(zlib(JSON)) in 255-character strings, host
// name from os.Hostname, plus the _services.micro. listing entry), and query decodes each
// entry's TXT the way Go Micro's GetService does and prints it as "gomicro".
//
// serve prints {"event":"ready",...} on stdout once its sockets are open and
// runs until SIGINT/SIGTERM. query prints one JSON object per entry and exits
// when the timeout has passed.
package main

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/mdns"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// entryJSON is the line format the TypeScript side parses.
type entryJSON struct {
	Name   string   `json:"name"`
	Host   string   `json:"host"`
	AddrV4 string   `json:"addrV4,omitempty"`
	AddrV6 string   `json:"addrV6,omitempty"`
	Port   int      `json:"port"`
	Info   string   `json:"info"`
	Fields []string `json:"infoFields"`
	AtMs   int64    `json:"atMs"`
	// Go Micro's decoding of the TXT (query -gomicro).
	GoMicro    *gmTxt `json:"gomicro,omitempty"`
	GoMicroErr string `json:"gomicroError,omitempty"`
}

// Go Micro's registry types (registry/registry.go): JSON keys as Go Micro writes them.
type gmValue struct {
	Name   string     `json:"name"`
	Type   string     `json:"type"`
	Values []*gmValue `json:"values"`
}

type gmEndpoint struct {
	Name     string            `json:"name"`
	Request  *gmValue          `json:"request"`
	Response *gmValue          `json:"response"`
	Metadata map[string]string `json:"metadata"`
}

// gmTxt is Go Micro's mdnsTxt: capitalised keys, Metadata is the node's.
type gmTxt struct {
	Service   string
	Version   string
	Endpoints []*gmEndpoint
	Metadata  map[string]string
}

// gmNode is what -gomicro serve takes.
type gmNode struct {
	Service   string            `json:"service"`
	Version   string            `json:"version"`
	ID        string            `json:"id"`
	Endpoints []*gmEndpoint     `json:"endpoints"`
	Metadata  map[string]string `json:"metadata"`
}

// gmEncode is Go Micro's encode: JSON, zlib, hex, 255-character strings.
func gmEncode(txt *gmTxt) ([]string, error) {
	b, err := json.Marshal(txt)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	w.Close()
	encoded := hex.EncodeToString(buf.Bytes())
	var record []string
	for len(encoded) > 255 {
		record = append(record, encoded[:255])
		encoded = encoded[255:]
	}
	return append(record, encoded), nil
}

// gmDecode is Go Micro's decode.
func gmDecode(record []string) (*gmTxt, error) {
	hr, err := hex.DecodeString(strings.Join(record, ""))
	if err != nil {
		return nil, err
	}
	zr, err := zlib.NewReader(bytes.NewReader(hr))
	if err != nil {
		return nil, err
	}
	rbuf, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var txt *gmTxt
	if err := json.Unmarshal(rbuf, &txt); err != nil {
		return nil, err
	}
	return txt, nil
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "query":
		err = query(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-mdns:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go-mdns serve|query [flags] (see -h of each mode)")
	os.Exit(2)
}

func lookupIface(name string) (*net.Interface, error) {
	if name == "" {
		return nil, nil
	}
	return net.InterfaceByName(name)
}

func writeJSON(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-mdns: json:", err)
		return
	}
	os.Stdout.Write(append(b, '\n'))
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	instance := fs.String("instance", "", "instance label")
	service := fs.String("service", "", "service, e.g. _x._tcp or greeter")
	domain := fs.String("domain", "local.", "domain (a trailing dot is added when missing)")
	port := fs.Int("port", 0, "service port")
	host := fs.String("host", "", "host name for SRV/A (default <instance>.<domain>)")
	iface := fs.String("iface", "", "interface for the multicast listener")
	verbose := fs.Bool("v", false, "log every question that has no answer")
	gomicro := fs.String("gomicro", "", "serve a node in Go Micro's format (JSON: service, version, id, endpoints, metadata)")
	var ips, txt multiFlag
	fs.Var(&ips, "ip", "host address (repeatable)")
	fs.Var(&txt, "txt", "TXT string (repeatable)")
	_ = fs.Parse(args)

	if *gomicro != "" {
		return serveGoMicro(*gomicro, *port, *host, ips, *iface, *verbose)
	}
	// The library insists on fully qualified names; the tests pass bare ones.
	d := strings.TrimSuffix(*domain, ".") + "."
	h := *host
	if h == "" {
		h = *instance + "." + d
	} else if !strings.HasSuffix(h, ".") {
		h += "."
	}
	// Without explicit addresses the library resolves the host name, which
	// would leave the namespace's LAN for the machine's resolver.
	if len(ips) == 0 {
		return fmt.Errorf("serve needs at least one -ip")
	}
	var addrs []net.IP
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return fmt.Errorf("bad -ip %q", s)
		}
		addrs = append(addrs, ip)
	}
	svc, err := mdns.NewMDNSService(*instance, *service, d, h, *port, addrs, txt)
	if err != nil {
		return err
	}
	ifi, err := lookupIface(*iface)
	if err != nil {
		return err
	}
	srv, err := mdns.NewServer(&mdns.Config{Zone: svc, Iface: ifi, LogEmptyResponses: *verbose})
	if err != nil {
		return err
	}
	writeJSON(map[string]interface{}{
		"event":    "ready",
		"instance": *instance + "." + strings.Trim(*service, ".") + "." + d,
		"host":     h,
		"pid":      os.Getpid(),
	})

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	return srv.Shutdown()
}

// serveGoMicro registers a node as Go Micro's mdns registry does: one server for the node and
// one for the "_services" listing entry, host name from os.Hostname unless -host is given.
func serveGoMicro(spec string, port int, host string, ips multiFlag, iface string, verbose bool) error {
	var n gmNode
	if err := json.Unmarshal([]byte(spec), &n); err != nil {
		return fmt.Errorf("-gomicro: %v", err)
	}
	txt, err := gmEncode(&gmTxt{Service: n.Service, Version: n.Version, Endpoints: n.Endpoints, Metadata: n.Metadata})
	if err != nil {
		return err
	}
	var addrs []net.IP
	for _, s := range ips {
		addrs = append(addrs, net.ParseIP(s))
	}
	if host != "" && !strings.HasSuffix(host, ".") {
		host += "."
	}
	ifi, err := lookupIface(iface)
	if err != nil {
		return err
	}
	listing, err := mdns.NewMDNSService(n.Service, "_services", "micro.", host, 9999, []net.IP{net.ParseIP("0.0.0.0")}, nil)
	if err != nil {
		return err
	}
	node, err := mdns.NewMDNSService(n.ID, n.Service, "micro.", host, port, addrs, txt)
	if err != nil {
		return err
	}
	var servers []*mdns.Server
	for _, zone := range []*mdns.MDNSService{listing, node} {
		srv, err := mdns.NewServer(&mdns.Config{Zone: zone, Iface: ifi, LogEmptyResponses: verbose})
		if err != nil {
			return err
		}
		servers = append(servers, srv)
	}
	writeJSON(map[string]interface{}{
		"event":    "ready",
		"instance": n.ID + "." + n.Service + ".micro.",
		"host":     node.HostName,
		"txt":      txt,
		"pid":      os.Getpid(),
	})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	for _, srv := range servers {
		srv.Shutdown()
	}
	return nil
}

func query(args []string) error {
	fs := flag.NewFlagSet("query", flag.ExitOnError)
	service := fs.String("service", "", "service to look up")
	domain := fs.String("domain", "local", "domain")
	timeout := fs.Duration("timeout", time.Second, "how long to collect answers")
	unicast := fs.Bool("unicast", false, "set the QU bit on the question")
	iface := fs.String("iface", "", "interface to send on")
	quiet := fs.Bool("q", true, "silence the library's log lines")
	gomicro := fs.Bool("gomicro", false, "decode each entry's TXT as Go Micro does")
	_ = fs.Parse(args)

	if *quiet {
		log.SetOutput(io.Discard)
	}
	ifi, err := lookupIface(*iface)
	if err != nil {
		return err
	}
	// The library sends without blocking on this channel and drops what does
	// not fit, so it is buffered and drained concurrently.
	entries := make(chan *mdns.ServiceEntry, 64)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		for e := range entries {
			out := entryJSON{
				Name:   e.Name,
				Host:   e.Host,
				Port:   e.Port,
				Info:   e.Info,
				Fields: e.InfoFields,
				AtMs:   time.Since(start).Milliseconds(),
			}
			if out.Fields == nil {
				out.Fields = []string{}
			}
			if e.AddrV4 != nil {
				out.AddrV4 = e.AddrV4.String()
			}
			if e.AddrV6 != nil {
				out.AddrV6 = e.AddrV6.String()
			}
			if *gomicro {
				if txt, err := gmDecode(e.InfoFields); err != nil {
					out.GoMicroErr = err.Error()
				} else {
					out.GoMicro = txt
				}
			}
			writeJSON(out)
		}
	}()
	params := &mdns.QueryParam{
		Service:             *service,
		Domain:              *domain,
		Timeout:             *timeout,
		Interface:           ifi,
		Entries:             entries,
		WantUnicastResponse: *unicast,
	}
	err = mdns.Query(params)
	close(entries)
	<-done
	return err
}
