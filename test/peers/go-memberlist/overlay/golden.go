// Built into github.com/hashicorp/memberlist through `go build -overlay` (see ../../go-memberlist.ts),
// so the golden vectors come from memberlist's own unexported encoders, not from a copy of them.
// Nothing here changes memberlist's behaviour: it only exposes encode, decode and the layer helpers.

package memberlist

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// GoldenCase is one encoded message with the inputs that produced it.
type GoldenCase struct {
	Name string
	Type uint8
	Out  []byte
}

func goldenEncode(name string, t messageType, in interface{}) GoldenCase {
	buf, err := encode(t, in)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	return GoldenCase{Name: name, Type: uint8(t), Out: buf.Bytes()}
}

// GoldenNode describes one pushNodeState for GoldenPushPull.
type GoldenNode struct {
	Name        string
	Addr        []byte
	Port        uint16
	Meta        []byte
	Incarnation uint32
	State       int
	Vsn         []byte
}

// GoldenMessages encodes every fixed-input message type with memberlist's encoder; the inputs
// are mirrored in test/gossip/fixtures/go-memberlist-golden.json by the program that prints them.
func GoldenMessages(meta200 []byte, longName string) []GoldenCase {
	lo := []byte{127, 0, 0, 1}
	v6 := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	cases := []GoldenCase{
		goldenEncode("ping", pingMsg, &ping{SeqNo: 42, Node: "node-a"}),
		goldenEncode("ping-source", pingMsg, &ping{SeqNo: 70000, Node: "node-b", SourceAddr: lo, SourcePort: 7946, SourceNode: "node-a"}),
		goldenEncode("indirect-ping", indirectPingMsg, &indirectPingReq{SeqNo: 1, Target: []byte{10, 0, 0, 2}, Port: 7946, Node: "node-c", Nack: true, SourceAddr: lo, SourcePort: 7946, SourceNode: "node-a"}),
		goldenEncode("indirect-ping-plain", indirectPingMsg, &indirectPingReq{SeqNo: 255, Target: v6, Port: 65535, Node: "node-c"}),
		goldenEncode("ack", ackRespMsg, &ackResp{SeqNo: 42}),
		goldenEncode("ack-payload", ackRespMsg, &ackResp{SeqNo: 300, Payload: []byte("hello")}),
		goldenEncode("nack", nackRespMsg, &nackResp{SeqNo: 65536}),
		goldenEncode("suspect", suspectMsg, &suspect{Incarnation: 3, Node: "node-c", From: "node-a"}),
		goldenEncode("alive", aliveMsg, &alive{Incarnation: 1, Node: "node-a", Addr: lo, Port: 7946, Vsn: []uint8{1, 5, 2, 0, 0, 0}}),
		goldenEncode("alive-serf", aliveMsg, &alive{Incarnation: 4294967295, Node: longName, Addr: v6, Port: 8301, Meta: meta200, Vsn: []uint8{1, 5, 2, 2, 5, 4}}),
		goldenEncode("dead", deadMsg, &dead{Incarnation: 2, Node: "node-c", From: "node-c"}),
		goldenEncode("err", errMsg, &errResp{Error: "remote error"}),
		goldenEncode("compress-header", compressMsg, &compress{Algo: lzwAlgo, Buf: []byte{1, 2, 3}}),
	}
	return cases
}

// GoldenPushPull writes a push/pull exactly as sendLocalState assembles it: header, node states, user state.
func GoldenPushPull(join bool, nodes []GoldenNode, user []byte) []byte {
	var buf bytes.Buffer
	buf.WriteByte(byte(pushPullMsg))
	hd := goldenHandle()
	enc := newGoldenEncoder(&buf, hd)
	header := pushPullHeader{Nodes: len(nodes), UserStateLen: len(user), Join: join}
	if err := enc.Encode(&header); err != nil {
		panic(err)
	}
	for _, n := range nodes {
		s := pushNodeState{Name: n.Name, Addr: n.Addr, Port: n.Port, Meta: n.Meta, Incarnation: n.Incarnation, State: NodeStateType(n.State), Vsn: n.Vsn}
		if err := enc.Encode(&s); err != nil {
			panic(err)
		}
	}
	if user != nil {
		buf.Write(user)
	}
	return buf.Bytes()
}

// GoldenUserStream writes a stream user message as sendUserMsg does.
func GoldenUserStream(payload []byte) []byte {
	var buf bytes.Buffer
	buf.WriteByte(byte(userMsg))
	enc := newGoldenEncoder(&buf, goldenHandle())
	if err := enc.Encode(&userMsgHeader{UserMsgLen: len(payload)}); err != nil {
		panic(err)
	}
	buf.Write(payload)
	return buf.Bytes()
}

// GoldenCompound is makeCompoundMessage.
func GoldenCompound(msgs [][]byte) []byte { return makeCompoundMessage(msgs).Bytes() }

// GoldenCompress is compressPayload: LZW (LSB, literal width 8) wrapped in a compress message.
func GoldenCompress(in []byte) []byte {
	b, err := compressPayload(in)
	if err != nil {
		panic(err)
	}
	return b.Bytes()
}

// GoldenDecompress is decompressPayload on a compress body (after the type byte).
func GoldenDecompress(body []byte) ([]byte, error) { return decompressPayload(body) }

// GoldenCrc prefixes a packet with its CRC as rawSendMsgPacket does for peers speaking protocol 5.
func GoldenCrc(msg []byte) []byte {
	header := make([]byte, 5, 5+len(msg))
	header[0] = byte(hasCrcMsg)
	binary.BigEndian.PutUint32(header[1:], crc32.ChecksumIEEE(msg))
	return append(header, msg...)
}

// GoldenEncrypt is encryptPayload (random nonce): version 0 pads, version 1 does not.
func GoldenEncrypt(vsn uint8, key, msg, data []byte) []byte {
	var buf bytes.Buffer
	if err := encryptPayload(encryptionVersion(vsn), key, msg, data, &buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// GoldenDecrypt is decryptPayload over a keyring's keys.
func GoldenDecrypt(keys [][]byte, msg, data []byte) ([]byte, error) {
	return decryptPayload(keys, msg, data)
}

// GoldenEncryptStream frames an encrypted stream message as encryptLocalState does (protocol >= 2).
func GoldenEncryptStream(key, msg []byte) []byte {
	var buf bytes.Buffer
	buf.WriteByte(byte(encryptMsg))
	size := make([]byte, 4)
	binary.BigEndian.PutUint32(size, uint32(encryptedLength(1, len(msg))))
	buf.Write(size)
	if err := encryptPayload(1, key, msg, buf.Bytes()[:5], &buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// GoldenDecode decodes a message body (after the type byte) with memberlist's decoder into the
// struct for its type, so a test can show Go reads our bytes.
func GoldenDecode(t uint8, body []byte) (interface{}, error) {
	var out interface{}
	switch messageType(t) {
	case pingMsg:
		out = &ping{}
	case indirectPingMsg:
		out = &indirectPingReq{}
	case ackRespMsg:
		out = &ackResp{}
	case nackRespMsg:
		out = &nackResp{}
	case suspectMsg:
		out = &suspect{}
	case aliveMsg:
		out = &alive{}
	case deadMsg:
		out = &dead{}
	case errMsg:
		out = &errResp{}
	case compressMsg:
		out = &compress{}
	default:
		return nil, fmt.Errorf("no struct for message type %d", t)
	}
	return out, decode(body, out)
}

// GoldenDecodePushPull reads a push/pull body (after the type byte) as readRemoteState does.
func GoldenDecodePushPull(body []byte) (bool, []GoldenNode, []byte, error) {
	r := bytes.NewReader(body)
	dec := newGoldenDecoder(r, goldenHandle())
	var header pushPullHeader
	if err := dec.Decode(&header); err != nil {
		return false, nil, nil, err
	}
	nodes := make([]GoldenNode, 0)
	for i := 0; i < header.Nodes; i++ {
		var s pushNodeState
		if err := dec.Decode(&s); err != nil {
			return false, nil, nil, err
		}
		nodes = append(nodes, GoldenNode{Name: s.Name, Addr: s.Addr, Port: s.Port, Meta: s.Meta, Incarnation: s.Incarnation, State: int(s.State), Vsn: s.Vsn})
	}
	user := make([]byte, header.UserStateLen)
	if _, err := r.Read(user); err != nil && header.UserStateLen > 0 {
		return false, nil, nil, err
	}
	return header.Join, nodes, user, nil
}
