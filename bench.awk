# Summarizes `make bench` (go test -bench output): for each benchmark, the
# medians over its runs of the time per request, its p99 and the
# allocations, measured alone; and the ratios against the baseline,
# measured paired (requests to otpgate and to the baseline alternating in
# one benchmark, so that both see the same load on a shared machine).

function median(k, what,    i, j, m, c, v, t) {
	m = n[k]; c = 0
	for (i = 1; i <= m; i++) if ((k, what, i) in val) v[++c] = val[k, what, i]
	if (!c) return 0
	for (i = 2; i <= c; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
	return c % 2 ? v[(c+1)/2] : (v[c/2] + v[c/2+1]) / 2
}

function row(label, k, base,    paired) {
	if (!n[k]) { printf "  %-34s (no result)\n", label; return }
	printf "  %-34s %9.0f %9.0f %8.0f", label, median(k, "ns"), median(k, "p99"), median(k, "allocs")
	paired = k; sub(/\//, "/paired-", paired)
	if (k != base && n[base])
		printf "  %+6.0f  %6.2f  %6.2f", median(k, "allocs") - median(base, "allocs"), median(paired, "speed"), median(paired, "ratio")
	printf "\n"
}

/^Benchmark(Proxied|ForwardAuth|ForwardAuthHandler)\// {
	k = $1; sub(/-[0-9]+$/, "", k); i = ++n[k]
	for (f = 3; f < NF; f++) {
		if ($(f+1) == "ns/op") val[k, "ns", i] = $f
		if ($(f+1) == "p99-µs") val[k, "p99", i] = $f
		if ($(f+1) == "allocs/op") val[k, "allocs", i] = $f
		if ($(f+1) == "speed") val[k, "speed", i] = $f
		if ($(f+1) == "p99-ratio") val[k, "ratio", i] = $f
	}
}

END {
	p = "BenchmarkProxied/"; f = "BenchmarkForwardAuth/"
	if (!n[p "bare-pooled"] || !n[f "bare-200"]) { print "no benchmark results"; exit 1 }
	hdr = sprintf("  %-34s %9s %9s %8s  %6s  %6s  %6s", "", "ns/op", "p99 us", "allocs", "+alloc", "speed", "p99")
	printf "\nMedians of %d runs. ns/op (2 clients in parallel), p99 us (per request) and allocs measured alone;\n", n[p "bare-pooled"]
	printf "+alloc = allocs - the baseline's; speed = the baseline's time / otpgate's and p99 = otpgate's p99 /\n"
	printf "the baseline's, measured paired (requests alternating, so both see the same load).\n"
	printf "\nProxied, against a bare httputil.ReverseProxy with pooled 32 KiB buffers:\n%s\n", hdr
	row("bare proxy, pooled buffers", p "bare-pooled", p "bare-pooled")
	row("bare proxy, no buffer pool", p "bare", p "bare")
	row("otpgate, fresh cookie", p "otpgate-fresh", p "bare-pooled")
	row("otpgate, stale cookie", p "otpgate-stale", p "bare-pooled")
	row("otpgate, metrics on, fresh cookie", p "otpgate-metrics-fresh", p "bare-pooled")
	row("otpgate, metrics on, stale cookie", p "otpgate-metrics-stale", p "bare-pooled")
	row("otpgate, Redis store, fresh cookie", p "otpgate-redis-fresh", p "bare-pooled")
	row("otpgate, Redis store, stale cookie", p "otpgate-redis-stale", p "bare-pooled")
	printf "\nForward-auth (Traefik, Caddy) and auth-request (nginx), against a bare Go handler answering 200:\n%s\n", hdr
	row("bare handler answering 200", f "bare-200", f "bare-200")
	row("forward-auth, fresh cookie", f "otpgate-fresh", f "bare-200")
	row("forward-auth, stale cookie", f "otpgate-stale", f "bare-200")
	row("auth-request, fresh cookie", f "auth-request-fresh", f "bare-200")
	row("auth-request, stale cookie", f "auth-request-stale", f "bare-200")
	row("forward-auth, Redis, fresh cookie", f "otpgate-redis-fresh", f "bare-200")
	row("forward-auth, Redis, stale cookie", f "otpgate-redis-stale", f "bare-200")
	h = "BenchmarkForwardAuthHandler/"
	printf "\notpgate's own work on a forward-auth question, its handler called directly:\n"
	hrow("forward-auth, fresh cookie", h "forward-auth-fresh")
	hrow("forward-auth, stale cookie", h "forward-auth-stale")
	hrow("auth-request, fresh cookie", h "auth-request-fresh")
	hrow("forward-auth, Redis, fresh cookie", h "redis-forward-auth-fresh")
	hrow("forward-auth, Redis, stale cookie", h "redis-forward-auth-stale")
	printf "\nThe Redis store against the memory store (otpgate both; speed = memory's time / Redis's, paired),\n"
	printf "and the allocations it adds:\n  %-34s %9s %9s %8s\n", "", "speed", "p99", "+alloc"
	redis_row("proxied, fresh cookie", p, "fresh", "otpgate-fresh")
	redis_row("proxied, stale cookie", p, "stale", "otpgate-stale")
	redis_row("forward-auth, fresh cookie", f, "fresh", "otpgate-fresh")
	redis_row("forward-auth, stale cookie", f, "stale", "otpgate-stale")
	# make bench is how the Redis figures are had: one missing (no
	# redis-server, so the benchmarks skipped) fails it.
	split("otpgate-redis-fresh otpgate-redis-stale paired-otpgate-redis-fresh paired-otpgate-redis-stale redis-vs-memory-fresh redis-vs-memory-stale", want, " ")
	for (i in want) for (j = 0; j < 2; j++) {
		k = (j ? f : p) want[i]
		if (!n[k]) missing = missing " " k
	}
	if (!n[h "redis-forward-auth-fresh"]) missing = missing " " h "redis-forward-auth-fresh"
	if (missing != "") {
		printf "\nno Redis store results (is redis-server installed? make test-deps installs it):%s\n", missing
		exit 1
	}
}

function redis_row(label, b, age, memory,    k) {
	k = b "redis-vs-memory-" age
	if (!n[k] || !n[b "otpgate-redis-" age] || !n[b memory]) { printf "  %-34s (no result)\n", label; return }
	printf "  %-34s %9.2f %9.2f %+8.0f\n", label, median(k, "speed"), median(k, "ratio"),
		median(b "otpgate-redis-" age, "allocs") - median(b memory, "allocs")
}

function hrow(label, k) {
	if (!n[k]) { printf "  %-34s (no result)\n", label; return }
	printf "  %-34s %9.0f ns %5.0f allocs\n", label, median(k, "ns"), median(k, "allocs")
}
