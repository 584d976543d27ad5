# Summarizes `make bench` (go test -bench output): for each benchmark, the
# median over its runs of the time and p99 per request and the allocations,
# and the ratios against the baselines of the same run.

function median(k, what,    i, j, m, v, t) {
	m = n[k]
	for (i = 1; i <= m; i++) v[i] = val[k, what, i]
	for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
	return m % 2 ? v[(m+1)/2] : (v[m/2] + v[m/2+1]) / 2
}

function row(label, k, base,    ns, p99) {
	if (!n[k]) { printf "  %-34s (no result)\n", label; return }
	ns = median(k, "ns"); p99 = median(k, "p99")
	printf "  %-34s %9.0f %9.1f %8.0f", label, ns, p99, median(k, "allocs")
	if (k != base && n[base])
		printf "  %6.2f  %6.2f  %+5.0f", median(base, "ns") / ns, p99 / median(base, "p99"), median(k, "allocs") - median(base, "allocs")
	printf "\n"
}

/^Benchmark(Proxied|ForwardAuth)\// {
	k = $1; sub(/-[0-9]+$/, "", k); i = ++n[k]
	for (f = 3; f < NF; f++) {
		if ($(f+1) == "ns/op") val[k, "ns", i] = $f
		if ($(f+1) == "p99-µs") val[k, "p99", i] = $f
		if ($(f+1) == "allocs/op") val[k, "allocs", i] = $f
	}
}

END {
	p = "BenchmarkProxied/"; f = "BenchmarkForwardAuth/"
	if (!n[p "bare-pooled"] || !n[f "bare-200"]) { print "no benchmark results"; exit 1 }
	hdr = sprintf("  %-34s %9s %9s %8s  %6s  %6s  %5s", "", "ns/req", "p99 µs", "allocs", "speed", "p99", "allocs")
	printf "\nProxied, against a bare httputil.ReverseProxy with pooled 32 KiB buffers (medians of %d runs;\nspeed = its time / this one's, p99 = this p99 / its p99, allocs = this - its):\n%s\n", n[p "bare-pooled"], hdr
	row("bare proxy, pooled buffers", p "bare-pooled", p "bare-pooled")
	row("bare proxy, no buffer pool", p "bare", p "bare-pooled")
	row("otpgate, fresh cookie", p "otpgate-fresh", p "bare-pooled")
	row("otpgate, stale cookie", p "otpgate-stale", p "bare-pooled")
	row("otpgate, metrics on, fresh cookie", p "otpgate-metrics-fresh", p "bare-pooled")
	row("otpgate, metrics on, stale cookie", p "otpgate-metrics-stale", p "bare-pooled")
	printf "\nForward-auth and auth-request, against a bare Go handler answering 200:\n%s\n", hdr
	row("bare handler answering 200", f "bare-200", f "bare-200")
	row("forward-auth, fresh cookie", f "otpgate-fresh", f "bare-200")
	row("forward-auth, stale cookie", f "otpgate-stale", f "bare-200")
	row("auth-request, fresh cookie", f "auth-request-fresh", f "bare-200")
	row("auth-request, stale cookie", f "auth-request-stale", f "bare-200")
}
