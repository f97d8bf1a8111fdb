// A peer that behaves as Go Micro's gossip registry does, for rollcall's interop tests, written
// from the facts of micro/go-micro registry/gossip (gossip.go @7e07c9b, proto/gossip.proto
// @de27031) and Go Micro's registry types, on Debian's memberlist 0.2.2 and
// golang-google-protobuf-dev. It shares no code with rollcall: the Update message is encoded and
// decoded by Go's protobuf runtime (a dynamic message built from the .proto's descriptor), the
// Service JSON by encoding/json with Go Micro's struct tags.
//
//	go-micro-gossip run -name n1 -bind 127.0.0.1 -port 0 [-join a:p,b:p] [-key HEX] [-skew 10m]
//	go-micro-gossip golden        (no network: encode/decode commands only)
//
// As Go Micro: DefaultLocalConfig with PushPullInterval 0 and ProtocolVersion 4, a
// TransmitLimitedQueue with NumNodes = number of seed addresses and RetransmitMult 3, Invalidates
// always false, updates of type 1 with Content-Type application/json only, expiry at `expires` on
// a 1 s tick, push/pull state JSON map[name][]Service on join only.
//
// Out (stdout, JSON lines): ready, joined, update (a received update: action, expires, metadata,
// service), dropped (undecodable message, with the reason), expire, merge (services of a join
// state). In (stdin): register, deregister, services, members, encode, decode, servicejson,
// statejson, localstate, join, leave, shutdown.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Go Micro's registry types and JSON tags (registry/registry.go, v2 and later).
type Value struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Values []*Value `json:"values"`
}

type Endpoint struct {
	Name     string            `json:"name"`
	Request  *Value            `json:"request"`
	Response *Value            `json:"response"`
	Metadata map[string]string `json:"metadata"`
}

type Node struct {
	Id       string            `json:"id"`
	Address  string            `json:"address"`
	Metadata map[string]string `json:"metadata"`
}

type Service struct {
	Name      string            `json:"name"`
	Version   string            `json:"version"`
	Metadata  map[string]string `json:"metadata"`
	Endpoints []*Endpoint       `json:"endpoints"`
	Nodes     []*Node           `json:"nodes"`
}

// Go Micro's constants (gossip.go).
const (
	actionCreate int32 = 1
	actionDelete int32 = 2
	typeService  int32 = 1
)

// --- gossip.Update through Go's protobuf runtime ---

var updateDesc protoreflect.MessageDescriptor

// The descriptor of gossip.proto @de27031: expires=1 uint64, type=2 int32, action=3 int32,
// metadata=6 map<string,string>, data=7 bytes.
func init() {
	s := proto.String
	label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	repeated := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	field := func(name string, num int32, t descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: s(name), JsonName: s(name), Number: proto.Int32(num), Label: label, Type: t.Enum()}
	}
	meta := field("metadata", 6, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE)
	meta.Label = repeated
	meta.TypeName = s(".gossip.Update.MetadataEntry")
	file := &descriptorpb.FileDescriptorProto{
		Name:    s("gossip.proto"),
		Package: s("gossip"),
		Syntax:  s("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: s("Update"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("expires", 1, descriptorpb.FieldDescriptorProto_TYPE_UINT64),
				field("type", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32),
				field("action", 3, descriptorpb.FieldDescriptorProto_TYPE_INT32),
				meta,
				field("data", 7, descriptorpb.FieldDescriptorProto_TYPE_BYTES),
			},
			NestedType: []*descriptorpb.DescriptorProto{{
				Name: s("MetadataEntry"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING),
					field("value", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING),
				},
				Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
			}},
		}},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		panic(err)
	}
	updateDesc = fd.Messages().ByName("Update")
}

// update is the Go view of one gossip.Update.
type update struct {
	Expires  uint64
	Type     int32
	Action   int32
	Metadata map[string]string
	Data     []byte
}

func (u *update) marshal() ([]byte, error) {
	m := dynamicpb.NewMessage(updateDesc)
	f := updateDesc.Fields()
	m.Set(f.ByName("expires"), protoreflect.ValueOfUint64(u.Expires))
	m.Set(f.ByName("type"), protoreflect.ValueOfInt32(u.Type))
	m.Set(f.ByName("action"), protoreflect.ValueOfInt32(u.Action))
	mp := m.Mutable(f.ByName("metadata")).Map()
	for k, v := range u.Metadata {
		mp.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfString(v))
	}
	m.Set(f.ByName("data"), protoreflect.ValueOfBytes(u.Data))
	// Deterministic sorts map keys; Go Micro's one-key map is the same either way.
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

func unmarshalUpdate(b []byte) (*update, error) {
	m := dynamicpb.NewMessage(updateDesc)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, err
	}
	f := updateDesc.Fields()
	u := &update{
		Expires:  m.Get(f.ByName("expires")).Uint(),
		Type:     int32(m.Get(f.ByName("type")).Int()),
		Action:   int32(m.Get(f.ByName("action")).Int()),
		Metadata: map[string]string{},
		Data:     m.Get(f.ByName("data")).Bytes(),
	}
	m.Get(f.ByName("metadata")).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		u.Metadata[k.String()] = v.String()
		return true
	})
	return u, nil
}

func (u *update) toJSON() map[string]interface{} {
	return map[string]interface{}{
		"expires": strconv.FormatUint(u.Expires, 10), "type": u.Type, "action": u.Action,
		"metadata": u.Metadata, "data": hex.EncodeToString(u.Data),
	}
}

// --- output ---

var out = struct {
	sync.Mutex
	enc *json.Encoder
}{enc: json.NewEncoder(os.Stdout)}

func emit(v map[string]interface{}) {
	out.Lock()
	defer out.Unlock()
	_ = out.enc.Encode(v)
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("bad hex %q: %v", s, err))
	}
	return b
}

// --- the registry (Go Micro's behaviour) ---

type registry struct {
	mu       sync.Mutex
	services map[string][]*Service
	// expiring holds created updates by a hash of their service, as Go Micro's updates map does.
	expiring map[[32]byte]*received
	queue    *memberlist.TransmitLimitedQueue
}

type received struct {
	up      *update
	service *Service
}

type broadcast struct{ up *update }

func (b *broadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b *broadcast) Message() []byte {
	bytes, err := b.up.marshal()
	if err != nil {
		return nil
	}
	return bytes
}
func (b *broadcast) Finished() {}

func serviceHash(s *Service) [32]byte {
	b, _ := json.Marshal(s)
	return sha256.Sum256(b)
}

// addServices merges nodes into the entry of the same version (Go Micro's util.go addServices).
func addServices(list []*Service, s *Service) []*Service {
	for _, old := range list {
		if old.Version != s.Version {
			continue
		}
		for _, n := range s.Nodes {
			replaced := false
			for i, o := range old.Nodes {
				if o.Id == n.Id {
					old.Nodes[i] = n
					replaced = true
				}
			}
			if !replaced {
				old.Nodes = append(old.Nodes, n)
			}
		}
		old.Metadata, old.Endpoints = s.Metadata, s.Endpoints
		return list
	}
	copied := *s
	copied.Nodes = append([]*Node(nil), s.Nodes...)
	return append(list, &copied)
}

// delServices removes the nodes of s from the entry of its version, and the entry once empty.
func delServices(list []*Service, s *Service) []*Service {
	var keep []*Service
	for _, old := range list {
		if old.Version == s.Version {
			var nodes []*Node
			for _, o := range old.Nodes {
				gone := false
				for _, n := range s.Nodes {
					if n.Id == o.Id {
						gone = true
					}
				}
				if !gone {
					nodes = append(nodes, o)
				}
			}
			old.Nodes = nodes
			if len(nodes) == 0 {
				continue
			}
		}
		keep = append(keep, old)
	}
	return keep
}

func (r *registry) apply(action int32, up *update, s *Service) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch action {
	case actionCreate:
		r.services[s.Name] = addServices(r.services[s.Name], s)
		if up != nil && up.Expires > 0 {
			r.expiring[serviceHash(s)] = &received{up: up, service: s}
		}
	case actionDelete:
		if list := delServices(r.services[s.Name], s); len(list) == 0 {
			delete(r.services, s.Name)
		} else {
			r.services[s.Name] = list
		}
		delete(r.expiring, serviceHash(s))
	}
}

func (r *registry) expiryLoop() {
	for range time.Tick(time.Second) {
		now := uint64(time.Now().UnixNano())
		var gone []*received
		r.mu.Lock()
		for k, v := range r.expiring {
			if v.up.Expires < now {
				delete(r.expiring, k)
				gone = append(gone, v)
			}
		}
		r.mu.Unlock()
		for _, v := range gone {
			r.apply(actionDelete, nil, v.service)
			emit(map[string]interface{}{"event": "expire", "service": v.service})
		}
	}
}

func (r *registry) snapshot() map[string][]*Service {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := json.Marshal(r.services)
	var copied map[string][]*Service
	_ = json.Unmarshal(b, &copied)
	return copied
}

// delegate: memberlist's callbacks, as Go Micro's gossip.go answers them.
type delegate struct {
	r *registry
	// async handles each message in its own goroutine, as Go Micro does (arrival order is lost).
	async bool
}

func (d *delegate) NodeMeta(int) []byte { return []byte{} }

func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 {
		return
	}
	if d.async {
		copied := append([]byte(nil), b...)
		go d.handle(copied)
		return
	}
	d.handle(b)
}

func (d *delegate) handle(b []byte) {
	up, err := unmarshalUpdate(b)
	if err != nil {
		emit(map[string]interface{}{"event": "dropped", "reason": "protobuf: " + err.Error(), "payload": hex.EncodeToString(b)})
		return
	}
	if up.Type != typeService || up.Metadata["Content-Type"] != "application/json" {
		emit(map[string]interface{}{"event": "dropped", "reason": "type or content type", "update": up.toJSON()})
		return
	}
	var s *Service
	if err := json.Unmarshal(up.Data, &s); err != nil || s == nil {
		emit(map[string]interface{}{"event": "dropped", "reason": fmt.Sprintf("json: %v", err), "update": up.toJSON()})
		return
	}
	d.r.apply(up.Action, up, s)
	ev := up.toJSON()
	ev["event"] = "update"
	ev["service"] = s
	emit(ev)
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.r.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte {
	if !join {
		return []byte{}
	}
	b, _ := json.Marshal(d.r.snapshot())
	return b
}

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	if len(buf) == 0 || !join {
		return
	}
	var services map[string][]*Service
	if err := json.Unmarshal(buf, &services); err != nil {
		emit(map[string]interface{}{"event": "dropped", "reason": "state json: " + err.Error()})
		return
	}
	var all []*Service
	for _, list := range services {
		for _, s := range list {
			d.r.apply(actionCreate, &update{Action: actionCreate}, s)
			all = append(all, s)
		}
	}
	emit(map[string]interface{}{"event": "merge", "services": all, "state": hex.EncodeToString(buf)})
}

// --- commands ---

type command struct {
	Cmd       string            `json:"cmd"`
	ID        string            `json:"id"`
	Service   json.RawMessage   `json:"service"`
	TTLMs     int64             `json:"ttlMs"`
	Expires   string            `json:"expires"`
	Type      int32             `json:"type"`
	Action    int32             `json:"action"`
	Metadata  map[string]string `json:"metadata"`
	Data      string            `json:"data"`
	TimeoutMs int               `json:"timeoutMs"`
	// Local registers without a broadcast: a service this member holds but never announced (as
	// one learned from an earlier join's state), reachable only through push/pull.
	Local bool     `json:"local"`
	Addrs []string `json:"addrs"`
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

// codecCommand handles the commands that need no network; false when c is not one of them.
func codecCommand(c command) bool {
	switch c.Cmd {
	case "encode":
		expires, err := strconv.ParseUint(orZero(c.Expires), 10, 64)
		if err != nil {
			replyErr(c, err)
			return true
		}
		b, err := (&update{Expires: expires, Type: c.Type, Action: c.Action, Metadata: c.Metadata, Data: mustHex(c.Data)}).marshal()
		if err != nil {
			replyErr(c, err)
			return true
		}
		reply(c, map[string]interface{}{"hex": hex.EncodeToString(b)})
	case "decode":
		up, err := unmarshalUpdate(mustHex(c.Data))
		if err != nil {
			replyErr(c, err)
			return true
		}
		reply(c, map[string]interface{}{"update": up.toJSON()})
	case "servicejson":
		// Go's reading and writing of one Service: unmarshal the bytes, marshal them again.
		var s *Service
		if err := json.Unmarshal(mustHex(c.Data), &s); err != nil {
			replyErr(c, err)
			return true
		}
		b, _ := json.Marshal(s)
		reply(c, map[string]interface{}{"hex": hex.EncodeToString(b)})
	case "statejson":
		var state map[string][]*Service
		if err := json.Unmarshal(mustHex(c.Data), &state); err != nil {
			replyErr(c, err)
			return true
		}
		b, _ := json.Marshal(state)
		reply(c, map[string]interface{}{"hex": hex.EncodeToString(b)})
	default:
		return false
	}
	return true
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func memberCommand(m *memberlist.Memberlist, r *registry, skew time.Duration, c command) {
	switch c.Cmd {
	case "register", "deregister":
		var s *Service
		if err := json.Unmarshal(c.Service, &s); err != nil || s == nil {
			replyErr(c, fmt.Errorf("service: %v", err))
			return
		}
		data, _ := json.Marshal(s)
		up := &update{Type: typeService, Metadata: map[string]string{"Content-Type": "application/json"}, Data: data}
		if c.Cmd == "register" {
			// Go Micro: Expires = now + register TTL on the sender's clock (skewed here on purpose).
			up.Action = actionCreate
			up.Expires = uint64(time.Now().Add(skew).Add(time.Duration(c.TTLMs) * time.Millisecond).UnixNano())
			r.apply(actionCreate, nil, s)
		} else {
			up.Action = actionDelete
			r.apply(actionDelete, nil, s)
		}
		if !c.Local {
			r.queue.QueueBroadcast(&broadcast{up: up})
		}
		b, _ := up.marshal()
		reply(c, map[string]interface{}{"ok": true, "hex": hex.EncodeToString(b)})
	case "services":
		reply(c, map[string]interface{}{"services": r.snapshot()})
	case "join":
		// A later join (Go Micro's connect loop): a push/pull with join set, state both ways.
		n, err := m.Join(c.Addrs)
		if err != nil {
			replyErr(c, err)
			return
		}
		reply(c, map[string]interface{}{"ok": true, "joined": n})
	case "localstate":
		b := (&delegate{r: r}).LocalState(true)
		reply(c, map[string]interface{}{"hex": hex.EncodeToString(b)})
	case "members":
		var names []string
		for _, n := range m.Members() {
			names = append(names, n.Name)
		}
		sort.Strings(names)
		reply(c, map[string]interface{}{"members": names, "queued": r.queue.NumQueued()})
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

func main() {
	if len(os.Args) > 1 && os.Args[1] == "golden" {
		commandLoop(func(c command) {
			if !codecCommand(c) {
				replyErr(c, fmt.Errorf("unknown command %q", c.Cmd))
			}
		})
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "run" {
		os.Args = append(os.Args[:1], os.Args[2:]...)
	}
	name := flag.String("name", "", "member name (default: micro-<host>-<pid>, like Go Micro's micro-<host>-<uuid>)")
	bind := flag.String("bind", "127.0.0.1", "bind address")
	port := flag.Int("port", 0, "bind port (0: a free one, as Go Micro picks)")
	join := flag.String("join", "", "comma-separated seed addresses (Go Micro's registry addresses)")
	key := flag.String("key", "", "hex secret key (Go Micro's Secure + Secret)")
	skew := flag.Duration("skew", 0, "added to this peer's clock when it computes expires")
	quiet := flag.Bool("quiet", true, "discard memberlist's log, as Go Micro does")
	async := flag.Bool("async", false, "handle each message in its own goroutine, as Go Micro does (default: in arrival order)")
	flag.Parse()

	var seeds []string
	for _, a := range strings.Split(*join, ",") {
		if a = strings.TrimSpace(a); a != "" {
			seeds = append(seeds, a)
		}
	}
	conf := memberlist.DefaultLocalConfig()
	conf.PushPullInterval = 0
	conf.ProtocolVersion = 4
	conf.BindAddr = *bind
	conf.BindPort = *port
	if *name != "" {
		conf.Name = *name
	} else {
		host, _ := os.Hostname()
		conf.Name = fmt.Sprintf("micro-%s-%d", host, os.Getpid())
	}
	if *key != "" {
		conf.SecretKey = mustHex(*key)
	}
	if *quiet {
		conf.LogOutput = io.Discard
	} else {
		conf.LogOutput = os.Stderr
	}
	r := &registry{services: map[string][]*Service{}, expiring: map[[32]byte]*received{}}
	r.queue = &memberlist.TransmitLimitedQueue{NumNodes: func() int { return len(seeds) }, RetransmitMult: 3}
	conf.Delegate = &delegate{r: r, async: *async}
	m, err := memberlist.Create(conf)
	if err != nil {
		emit(map[string]interface{}{"event": "fatal", "error": err.Error()})
		os.Exit(1)
	}
	go r.expiryLoop()
	local := m.LocalNode()
	emit(map[string]interface{}{"event": "ready", "name": local.Name, "port": local.Port,
		"bind": net.JoinHostPort(conf.BindAddr, strconv.Itoa(int(local.Port)))})
	if len(seeds) > 0 {
		n, err := m.Join(seeds)
		v := map[string]interface{}{"event": "joined", "joined": n}
		if err != nil {
			v["error"] = err.Error()
		}
		emit(v)
	}
	commandLoop(func(c command) {
		if !codecCommand(c) {
			memberCommand(m, r, *skew, c)
		}
	})
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
				if p := recover(); p != nil {
					reply(c, map[string]interface{}{"error": fmt.Sprint(p)})
				}
			}()
			handle(c)
		}()
	}
}
