//go:build race

package fetch

// raceEnabled: the race detector slows the fetcher's Go code several
// times, not sha256sum, so speed comparisons mean nothing under it.
const raceEnabled = true
