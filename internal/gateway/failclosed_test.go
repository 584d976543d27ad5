package gateway

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
)

// The fail-closed 503 goes out with the header as it was before the
// parts answered: what they set is dropped, what they changed is undone,
// whether the header was kept in place (a few fields) or copied (more).
func TestHeaderSnapshotRestoresTheHeaderAsItWas(t *testing.T) {
	for _, fields := range []int{0, 1, 4, 5, 12} {
		h := http.Header{}
		for i := range fields {
			h.Set(fmt.Sprintf("X-Field-%d", i), fmt.Sprintf("value %d", i))
		}
		want := h.Clone()
		var s headerSnapshot
		s.take(h)
		h.Set("Location", "/otpgate/signin")
		h.Add("Set-Cookie", "otpgate_session=; Max-Age=0")
		if fields > 0 {
			h.Add("X-Field-0", "added")
			h.Set("X-Field-1", "replaced")
			h.Del(fmt.Sprintf("X-Field-%d", fields-1))
		}
		s.restore(h)
		if !reflect.DeepEqual(h, want) {
			t.Errorf("%d fields: restored %v, want %v", fields, h, want)
		}
	}
}
