package session

import "testing"

func TestIsRemoteURI(t *testing.T) {
	for uri, want := range map[string]bool{
		"qemu:///system":                        false,
		"qemu:///session":                       false,
		"qemu+unix:///system":                   false,
		"test:///default":                       false,
		"qemu+ssh://root@box/system":            true,
		"qemu+ssh://box:2222/system?keyfile=/k": true,
		"qemu+tcp://10.0.0.5/system":            true,
		"":                                      false,
	} {
		if got := IsRemoteURI(uri); got != want {
			t.Errorf("IsRemoteURI(%q) = %v, want %v", uri, got, want)
		}
	}
}
