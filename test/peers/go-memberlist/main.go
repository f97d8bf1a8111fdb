// A hashicorp/memberlist peer for rollcall's gossip tests (Debian's memberlist 0.2.2, go-msgpack 0.5.5).
//
//	go-memberlist run -name n1 -bind 127.0.0.1 -port 7946 [-join 127.0.0.1:7950] [-key HEX] ...
//	go-memberlist golden            (no network: only the encoder commands below)
//
// It prints one JSON object per line on stdout (events, replies) and reads one JSON command per
// line on stdin. Memberlist's own log goes to stderr. Besides membership commands it exposes
// memberlist's unexported encoders through the overlay in ./overlay, so tests can take golden
// bytes from the real library and have it decode bytes rollcall wrote.
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

var out = struct {
	sync.Mutex
	enc *json.Encoder
}{enc: json.NewEncoder(os.Stdout)}

func emit(v map[string]interface{}) {
	out.Lock()
	defer out.Unlock()
	_ = out.enc.Encode(v)
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("bad hex %q: %v", s, err))
	}
	return b
}

func nodeJSON(n *memberlist.Node) map[string]interface{} {
	return map[string]interface{}{
		"name": n.Name, "addr": n.Addr.String(), "port": n.Port, "meta": hexOf(n.Meta), "state": int(n.State),
		"vsn": []int{int(n.PMin), int(n.PMax), int(n.PCur), int(n.DMin), int(n.DMax), int(n.DCur)},
	}
}

// delegate answers memberlist's callbacks and reports what arrives.
type delegate struct {
	mu         sync.Mutex
	meta       []byte
	userState  []byte
	ackPayload []byte
	queue      *memberlist.TransmitLimitedQueue
}

type broadcast []byte

func (b broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b broadcast) Message() []byte                       { return b }
func (b broadcast) Finished()                             {}

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.meta
}

func (d *delegate) NotifyMsg(msg []byte) {
	emit(map[string]interface{}{"event": "user", "payload": hexOf(msg)})
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.userState
}

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	emit(map[string]interface{}{"event": "merge", "join": join, "userState": hexOf(buf)})
}

func (d *delegate) NotifyJoin(n *memberlist.Node) {
	emit(map[string]interface{}{"event": "join", "node": nodeJSON(n)})
}

func (d *delegate) NotifyLeave(n *memberlist.Node) {
	emit(map[string]interface{}{"event": "leave", "node": nodeJSON(n)})
}

func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	emit(map[string]interface{}{"event": "update", "node": nodeJSON(n)})
}

func (d *delegate) AckPayload() []byte { return d.ackPayload }

func (d *delegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	emit(map[string]interface{}{"event": "ping", "node": other.Name, "rttMs": float64(rtt) / 1e6, "payload": hexOf(payload)})
}

type command struct {
	Cmd       string   `json:"cmd"`
	ID        string   `json:"id"`
	Addrs     []string `json:"addrs"`
	To        string   `json:"to"`
	Addr      string   `json:"addr"`
	Payload   string   `json:"payload"`
	Reliable  bool     `json:"reliable"`
	Meta      string   `json:"meta"`
	TimeoutMs int      `json:"timeoutMs"`
	// Encoder commands.
	Type  uint8                   `json:"type"`
	Body  string                  `json:"body"`
	Parts []string                `json:"parts"`
	Join  bool                    `json:"join"`
	Nodes []memberlist.GoldenNode `json:"nodes"`
	User  string                  `json:"user"`
	Vsn   uint8                   `json:"vsn"`
	Key   string                  `json:"key"`
	Keys  []string                `json:"keys"`
	Data  string                  `json:"data"`
	Args  []string                `json:"args"`
}

func reply(c command, v map[string]interface{}) {
	v["reply"] = c.Cmd
	if c.ID != "" {
		v["id"] = c.ID
	}
	emit(v)
}

func replyErr(c command, err error) {
	if err != nil {
		reply(c, map[string]interface{}{"error": err.Error()})
	} else {
		reply(c, map[string]interface{}{"ok": true})
	}
}

// encoderCommand handles the golden-byte commands; false when c is not one of them.
func encoderCommand(c command) bool {
	switch c.Cmd {
	case "messages":
		meta := make([]byte, 200)
		meta[0] = 0xff
		for i := 1; i < len(meta); i++ {
			meta[i] = byte(i)
		}
		long := strings.Repeat("n", 40)
		cases := []map[string]interface{}{}
		for _, g := range memberlist.GoldenMessages(meta, long) {
			cases = append(cases, map[string]interface{}{"name": g.Name, "type": g.Type, "hex": hexOf(g.Out)})
		}
		reply(c, map[string]interface{}{"cases": cases, "meta200": hexOf(meta), "longName": long})
	case "pushpull":
		reply(c, map[string]interface{}{"hex": hexOf(memberlist.GoldenPushPull(c.Join, c.Nodes, userBytes(c.User)))})
	case "userstream":
		reply(c, map[string]interface{}{"hex": hexOf(memberlist.GoldenUserStream(mustHex(c.Payload)))})
	case "compound":
		parts := make([][]byte, len(c.Parts))
		for i, p := range c.Parts {
			parts[i] = mustHex(p)
		}
		reply(c, map[string]interface{}{"hex": hexOf(memberlist.GoldenCompound(parts))})
	case "compress":
		reply(c, map[string]interface{}{"hex": hexOf(memberlist.GoldenCompress(mustHex(c.Body)))})
	case "decompress":
		b, err := memberlist.GoldenDecompress(mustHex(c.Body))
		if err != nil {
			replyErr(c, err)
		} else {
			reply(c, map[string]interface{}{"hex": hexOf(b)})
		}
	case "crc":
		reply(c, map[string]interface{}{"hex": hexOf(memberlist.GoldenCrc(mustHex(c.Body)))})
	case "encrypt":
		reply(c, map[string]interface{}{"hex": hexOf(memberlist.GoldenEncrypt(c.Vsn, mustHex(c.Key), mustHex(c.Body), mustHex(c.Data)))})
	case "encryptstream":
		reply(c, map[string]interface{}{"hex": hexOf(memberlist.GoldenEncryptStream(mustHex(c.Key), mustHex(c.Body)))})
	case "decrypt":
		keys := make([][]byte, len(c.Keys))
		for i, k := range c.Keys {
			keys[i] = mustHex(k)
		}
		b, err := memberlist.GoldenDecrypt(keys, mustHex(c.Body), mustHex(c.Data))
		if err != nil {
			replyErr(c, err)
		} else {
			reply(c, map[string]interface{}{"hex": hexOf(b)})
		}
	case "decode":
		v, err := memberlist.GoldenDecode(c.Type, mustHex(c.Body))
		if err != nil {
			replyErr(c, err)
		} else {
			reply(c, map[string]interface{}{"value": v})
		}
	case "decodepushpull":
		join, nodes, user, err := memberlist.GoldenDecodePushPull(mustHex(c.Body))
		if err != nil {
			replyErr(c, err)
		} else {
			reply(c, map[string]interface{}{"join": join, "nodes": nodes, "user": hexOf(user)})
		}
	default:
		return false
	}
	return true
}

// userBytes keeps Go's distinction between no user state (nil, omitted) and hex.
func userBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return mustHex(s)
}

func findNode(m *memberlist.Memberlist, name string) *memberlist.Node {
	for _, n := range m.Members() {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func memberCommand(m *memberlist.Memberlist, d *delegate, c command) {
	switch c.Cmd {
	case "members":
		list := []map[string]interface{}{}
		for _, n := range m.Members() {
			list = append(list, nodeJSON(n))
		}
		reply(c, map[string]interface{}{"members": list, "health": m.GetHealthScore()})
	case "join":
		n, err := m.Join(c.Addrs)
		v := map[string]interface{}{"joined": n}
		if err != nil {
			v["error"] = err.Error()
		}
		reply(c, v)
	case "broadcast":
		d.queue.QueueBroadcast(broadcast(mustHex(c.Payload)))
		replyErr(c, nil)
	case "send":
		n := findNode(m, c.To)
		if n == nil {
			replyErr(c, fmt.Errorf("no member %q", c.To))
			return
		}
		if c.Reliable {
			replyErr(c, m.SendReliable(n, mustHex(c.Payload)))
		} else {
			replyErr(c, m.SendBestEffort(n, mustHex(c.Payload)))
		}
	case "sendto":
		replyErr(c, m.SendToAddress(memberlist.Address{Addr: c.Addr, Name: c.To}, mustHex(c.Payload)))
	case "meta":
		d.mu.Lock()
		d.meta = mustHex(c.Meta)
		d.mu.Unlock()
		replyErr(c, m.UpdateNode(time.Duration(orDefault(c.TimeoutMs, 5000))*time.Millisecond))
	case "userstate":
		d.mu.Lock()
		d.userState = userBytes(c.User)
		d.mu.Unlock()
		replyErr(c, nil)
	case "leave":
		replyErr(c, m.Leave(time.Duration(orDefault(c.TimeoutMs, 5000))*time.Millisecond))
	case "shutdown":
		replyErr(c, m.Shutdown())
		os.Exit(0)
	default:
		replyErr(c, fmt.Errorf("unknown command %q", c.Cmd))
	}
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func parseVersions(s string) ([3]uint8, error) {
	var v [3]uint8
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return v, fmt.Errorf("want min,max,cur, got %q", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 || n > 255 {
			return v, fmt.Errorf("bad version %q", p)
		}
		v[i] = uint8(n)
	}
	return v, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "golden" {
		commandLoop(func(c command) {
			if !encoderCommand(c) {
				replyErr(c, fmt.Errorf("unknown command %q", c.Cmd))
			}
		})
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "run" {
		os.Args = append(os.Args[:1], os.Args[2:]...)
	}
	name := flag.String("name", "", "node name (default: host name)")
	bind := flag.String("bind", "127.0.0.1", "bind address")
	port := flag.Int("port", 0, "bind port (0: pick a free one)")
	advertise := flag.String("advertise", "", "advertise address (default: bind)")
	join := flag.String("join", "", "comma-separated host:port list to join at start")
	keys := flag.String("key", "", "comma-separated hex keys of 16, 24 or 32 bytes; the first is primary")
	compression := flag.Bool("compression", true, "compress packets and streams (LZW)")
	protocol := flag.Int("protocol", memberlist.ProtocolVersion2Compatible, "protocol version to speak (1..5)")
	delegateVersions := flag.String("delegate-versions", "0,0,0", "delegate protocol min,max,cur (serf: 2,5,4)")
	meta := flag.String("meta", "", "node meta, hex")
	userState := flag.String("user-state", "", "push/pull user state, hex")
	ackPayload := flag.String("ack-payload", "", "ack payload, hex")
	profile := flag.String("config", "local", "memberlist preset: lan, wan or local")
	quiet := flag.Bool("quiet", false, "discard memberlist's log")
	flag.Parse()

	var conf *memberlist.Config
	switch *profile {
	case "lan":
		conf = memberlist.DefaultLANConfig()
	case "wan":
		conf = memberlist.DefaultWANConfig()
	case "local":
		conf = memberlist.DefaultLocalConfig()
	default:
		fail(fmt.Errorf("unknown config %q", *profile))
	}
	if *name != "" {
		conf.Name = *name
	}
	conf.BindAddr = *bind
	conf.BindPort = *port
	if *advertise != "" {
		conf.AdvertiseAddr = *advertise
	}
	conf.EnableCompression = *compression
	conf.ProtocolVersion = uint8(*protocol)
	dv, err := parseVersions(*delegateVersions)
	if err != nil {
		fail(err)
	}
	conf.DelegateProtocolMin, conf.DelegateProtocolMax, conf.DelegateProtocolVersion = dv[0], dv[1], dv[2]
	if *keys != "" {
		list := strings.Split(*keys, ",")
		all := make([][]byte, len(list))
		for i, k := range list {
			all[i] = mustHex(k)
		}
		ring, err := memberlist.NewKeyring(all, all[0])
		if err != nil {
			fail(err)
		}
		conf.Keyring = ring
	}
	if *quiet {
		conf.LogOutput = io.Discard
	} else {
		conf.LogOutput = os.Stderr
	}
	d := &delegate{meta: userBytes(*meta), userState: userBytes(*userState), ackPayload: userBytes(*ackPayload)}
	conf.Delegate = d
	conf.Events = d
	conf.Ping = d

	m, err := memberlist.Create(conf)
	if err != nil {
		fail(err)
	}
	d.queue = &memberlist.TransmitLimitedQueue{NumNodes: m.NumMembers, RetransmitMult: conf.RetransmitMult}
	local := m.LocalNode()
	emit(map[string]interface{}{"event": "ready", "name": local.Name, "addr": local.Addr.String(), "port": local.Port,
		"bind": net.JoinHostPort(conf.BindAddr, strconv.Itoa(int(local.Port)))})
	if *join != "" {
		n, err := m.Join(strings.Split(*join, ","))
		v := map[string]interface{}{"event": "joined", "joined": n}
		if err != nil {
			v["error"] = err.Error()
		}
		emit(v)
	}
	commandLoop(func(c command) {
		if !encoderCommand(c) {
			memberCommand(m, d, c)
		}
	})
	// stdin closed: the test process is gone, so leave no peer behind.
	_ = m.Shutdown()
}

func commandLoop(handle func(command)) {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		var c command
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			emit(map[string]interface{}{"event": "error", "error": err.Error()})
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					reply(c, map[string]interface{}{"error": fmt.Sprint(r)})
				}
			}()
			handle(c)
		}()
	}
}

func fail(err error) {
	emit(map[string]interface{}{"event": "fatal", "error": err.Error()})
	os.Exit(1)
}
