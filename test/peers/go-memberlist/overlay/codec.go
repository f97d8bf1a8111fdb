// The msgpack handle memberlist itself uses (util.go), for the stream encoders above.

package memberlist

import (
	"io"

	"github.com/hashicorp/go-msgpack/codec"
)

func goldenHandle() *codec.MsgpackHandle { return &codec.MsgpackHandle{} }

func newGoldenEncoder(w io.Writer, h *codec.MsgpackHandle) *codec.Encoder { return codec.NewEncoder(w, h) }

func newGoldenDecoder(r io.Reader, h *codec.MsgpackHandle) *codec.Decoder { return codec.NewDecoder(r, h) }
