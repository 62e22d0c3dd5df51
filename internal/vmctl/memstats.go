package vmctl

import (
	"fmt"
	"sort"
	"time"
)

// memStat describes one balloon statistic as libvirt names it.
type memStat struct {
	key  string
	kind int // statKiB, statCount, statTime
	what string
}

const (
	statKiB = iota
	statCount
	statTime
)

// memStatTable is the display order and meaning of libvirt's statistics.
var memStatTable = []memStat{
	{"actual", statKiB, "balloon size: memory the guest has now"},
	{"unused", statKiB, "memory the guest leaves unused"},
	{"usable", statKiB, "memory the guest could use without swapping (free + reclaimable caches)"},
	{"available", statKiB, "total memory the guest's kernel sees"},
	{"disk_caches", statKiB, "page cache the guest can drop"},
	{"rss", statKiB, "host memory QEMU uses for the VM"},
	{"swap_in", statKiB, "read from guest swap since boot"},
	{"swap_out", statKiB, "written to guest swap since boot"},
	{"major_fault", statCount, "page faults that needed I/O"},
	{"minor_fault", statCount, "page faults without I/O"},
	{"hugetlb_pgalloc", statCount, "hugetlb page allocations in the guest"},
	{"hugetlb_pgfail", statCount, "failed hugetlb page allocations in the guest"},
	{"last_update", statTime, "when the guest last reported"},
}

// MemStatRow is one line of memstats output.
type MemStatRow struct {
	Key   string
	Value string // human: "212.4 MiB", "1234", "2026-11-23T10:00:00Z"
	What  string
}

// MemStatRows turns libvirt's statistics (KiB, counters, a timestamp)
// into rows in a fixed order; unknown keys follow, sorted, as numbers.
func MemStatRows(stats map[string]uint64) []MemStatRow {
	var rows []MemStatRow
	seen := map[string]bool{}
	for _, s := range memStatTable {
		v, ok := stats[s.key]
		if !ok {
			continue
		}
		seen[s.key] = true
		rows = append(rows, MemStatRow{Key: s.key, Value: formatStat(s.kind, v), What: s.what})
	}
	var rest []string
	for k := range stats {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		rows = append(rows, MemStatRow{Key: k, Value: fmt.Sprint(stats[k])})
	}
	return rows
}

func formatStat(kind int, v uint64) string {
	switch kind {
	case statKiB:
		return HumanBytes(v * 1024)
	case statTime:
		return time.Unix(int64(v), 0).UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// MemStatsJSON is memstats --output json.
type MemStatsJSON struct {
	Name string `json:"name"`
	// Bytes are the memory statistics in bytes (actual, unused, usable, rss, …).
	Bytes map[string]uint64 `json:"bytes"`
	// Counts are the counters (major_fault, minor_fault, …).
	Counts map[string]uint64 `json:"counts,omitempty"`
	// LastUpdate is when the guest last reported (RFC 3339), if it did.
	LastUpdate string `json:"lastUpdate,omitempty"`
	// StatsPeriod is the reporting period in seconds (0: guest statistics off).
	StatsPeriod int `json:"statsPeriod"`
}

// MemStatsToJSON sorts libvirt's statistics by kind, with memory in bytes.
func MemStatsToJSON(name string, stats map[string]uint64, period int) MemStatsJSON {
	out := MemStatsJSON{Name: name, Bytes: map[string]uint64{}, Counts: map[string]uint64{}, StatsPeriod: period}
	kinds := map[string]int{}
	for _, s := range memStatTable {
		kinds[s.key] = s.kind
	}
	for k, v := range stats {
		kind, ok := kinds[k]
		switch {
		case !ok:
			out.Counts[k] = v
		case kind == statKiB:
			out.Bytes[k] = v * 1024
		case kind == statTime:
			out.LastUpdate = time.Unix(int64(v), 0).UTC().Format(time.RFC3339)
		default:
			out.Counts[k] = v
		}
	}
	return out
}

// GuestReportsStats reports whether the statistics come from the guest's
// balloon driver; without it libvirt has only actual and rss (QEMU's side).
func GuestReportsStats(stats map[string]uint64) bool {
	_, unused := stats["unused"]
	_, usable := stats["usable"]
	return unused || usable
}
