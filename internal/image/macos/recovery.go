// Package macos has the macOS pieces of the image builder that need no
// Mac: the recovery client that resolves a release name to Apple's
// BaseSystem.dmg and its chunklist the way OpenCore's macrecovery.py
// does, the chunklist parser and chunk-by-chunk verifier, the UDIF
// (koly) trailer check, and the QEMU device set a macOS guest under
// OpenCore needs.
package macos

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// Release is one macOS release the recovery service serves, with the
// board ID and MLB macrecovery.py documents for it.
type Release struct {
	Name    string // recipe name: sonoma, sequoia, …
	Title   string // "macOS Sonoma"
	Version string // major version
	BoardID string
	MLB     string
	OSType  string // "default" or "latest"
}

// Releases is pinned from acidanthera/OpenCorePkg
// Utilities/macrecovery/recovery_urls.txt (commit f203ab25, May 2026)
// and boards.json (commit 170b538b, Aug 2026): one board ID per release
// whose recovery image is that release.
var Releases = []Release{
	{"highsierra", "macOS High Sierra", "10.13", "Mac-7BA5B2D9E42DDD94", "00000000000J80300", "default"},
	{"mojave", "macOS Mojave", "10.14", "Mac-7BA5B2DFE22DDD8C", "00000000000KXPG00", "default"},
	{"catalina", "macOS Catalina", "10.15", "Mac-00BE6ED71E35EB86", mlbZero, "default"},
	{"bigsur", "macOS Big Sur", "11", "Mac-2BD1B31983FE1663", mlbZero, "default"},
	{"monterey", "macOS Monterey", "12", "Mac-E43C1C25D4880AD6", mlbZero, "default"},
	{"ventura", "macOS Ventura", "13", "Mac-B4831CEBD52A0C4C", mlbZero, "default"},
	{"sonoma", "macOS Sonoma", "14", "Mac-827FAC58A8FDFA22", mlbZero, "default"},
	{"sequoia", "macOS Sequoia", "15", "Mac-7BA5B2D9E42DDD94", mlbZero, "default"},
	{"tahoe", "macOS Tahoe", "26", "Mac-CFF7D910A743CAAF", mlbZero, "latest"},
}

const mlbZero = "00000000000000000"

// LookupRelease finds a release by name (case-insensitive, spaces
// ignored), or lists the known ones.
func LookupRelease(name string) (Release, error) {
	key := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(name), "macos "), " ", ""))
	for _, r := range Releases {
		if r.Name == key {
			return r, nil
		}
	}
	names := make([]string, len(Releases))
	for i, r := range Releases {
		names[i] = r.Name
	}
	sort.Strings(names)
	return Release{}, fmt.Errorf("macOS release %q is not in deskvm's pinned table; known: %s", name, strings.Join(names, ", "))
}

// DefaultRecoveryURL is Apple's recovery service (plain HTTP, as the
// Macs' own firmware uses it; the chunklist's RSA signature is what
// makes the download trustworthy).
const DefaultRecoveryURL = "http://osrecovery.apple.com"

// Recovery talks to the recovery service.
type Recovery struct {
	BaseURL string       // default DefaultRecoveryURL
	Client  *http.Client // default http.DefaultClient
	Rand    io.Reader    // for the request IDs; default crypto/rand
}

// Asset is one file to download and the token its request needs.
type Asset struct {
	URL   string
	Hash  string // AH/CH as the service sends it (not a SHA-256; informational)
	Token string // sent as the AssetToken cookie
}

// Header is the request header the download of the asset needs.
func (a Asset) Header() http.Header {
	return http.Header{"Cookie": {"AssetToken=" + a.Token}, "User-Agent": {userAgent}}
}

// Assets is what the service answers for a board.
type Assets struct {
	Product   string // AP, e.g. 071-78704
	Image     Asset  // BaseSystem.dmg (AU, AH, AT)
	Chunklist Asset  // BaseSystem.chunklist (CU, CH, CT)
}

const userAgent = "InternetRecovery/1.0"

func (r *Recovery) base() string {
	if r.BaseURL != "" {
		return strings.TrimSuffix(r.BaseURL, "/")
	}
	return DefaultRecoveryURL
}

func (r *Recovery) client() *http.Client {
	if r.Client != nil {
		return r.Client
	}
	return http.DefaultClient
}

func (r *Recovery) hexID(n int) (string, error) {
	rd := r.Rand
	if rd == nil {
		rd = rand.Reader
	}
	b := make([]byte, (n+1)/2)
	if _, err := io.ReadFull(rd, b); err != nil {
		return "", err
	}
	return strings.ToUpper(hex.EncodeToString(b))[:n], nil
}

// Resolve asks the service for the recovery image of a release: a
// session cookie from GET /, then POST /InstallationPayload/RecoveryImage
// with the board ID, MLB and random client IDs.
func (r *Recovery) Resolve(ctx context.Context, rel Release) (Assets, error) {
	session, err := r.session(ctx)
	if err != nil {
		return Assets{}, err
	}
	cid, err := r.hexID(16)
	if err != nil {
		return Assets{}, err
	}
	k, err := r.hexID(64)
	if err != nil {
		return Assets{}, err
	}
	fg, err := r.hexID(64)
	if err != nil {
		return Assets{}, err
	}
	body := strings.Join([]string{
		"cid=" + cid, "sn=" + rel.MLB, "bid=" + rel.BoardID, "k=" + k, "fg=" + fg, "os=" + rel.OSType,
	}, "\n")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base()+"/InstallationPayload/RecoveryImage", strings.NewReader(body))
	if err != nil {
		return Assets{}, err
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Cookie", session)
	req.Header.Set("Content-Type", "text/plain")
	req.Close = true
	resp, err := r.client().Do(req)
	if err != nil {
		return Assets{}, fmt.Errorf("recovery image for %s (%s): %w", rel.Title, rel.BoardID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Assets{}, fmt.Errorf("recovery image for %s (%s): %s", rel.Title, rel.BoardID, resp.Status)
	}
	info := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 64<<10))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if ok {
			info[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return Assets{}, fmt.Errorf("recovery image for %s: read answer: %w", rel.Title, err)
	}
	var missing []string
	for _, k := range []string{"AP", "AU", "AH", "AT", "CU", "CH", "CT"} {
		if info[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Assets{}, fmt.Errorf("recovery image for %s (%s): the answer lacks %s", rel.Title, rel.BoardID, strings.Join(missing, ", "))
	}
	return Assets{
		Product:   info["AP"],
		Image:     Asset{URL: info["AU"], Hash: info["AH"], Token: info["AT"]},
		Chunklist: Asset{URL: info["CU"], Hash: info["CH"], Token: info["CT"]},
	}, nil
}

// session gets the "session=…" cookie the service sets on GET /.
func (r *Recovery) session(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base()+"/", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", userAgent)
	req.Close = true
	resp, err := r.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("recovery session: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	for _, c := range resp.Header.Values("Set-Cookie") {
		for _, part := range strings.Split(c, ";") {
			part = strings.TrimSpace(part)
			if strings.HasPrefix(part, "session=") {
				return part, nil
			}
		}
	}
	return "", errors.New("recovery session: the service set no session cookie")
}
