#!/usr/bin/env python3
"""Load driver of bench/crm_scale.sh: CLIENTS threads, each with one keep-alive connection, run
REQUESTS requests of each query; prints latency percentiles per query, then a 1,000-item batch
against 1,000 single creates. The seeded data follows bench/crm_scale.sql.in (contact i has id i)."""

import argparse
import base64
import http.client
import json
import random
import threading
import time
import urllib.parse

A = "bacedafigahikolumanopirasatevowuyezo"
B = "lanerotisemakuvipo"
C = "bacedafigahikolumanopirasatevowuyezoxa"
D = "lanerotisemakuvipowabe"
E = "nsrtlkmdgpzbvchfwxyjqs"


def first_name(i):
    s = A[(i % 18) * 2:(i % 18) * 2 + 2]
    return s[0].upper() + s[1] + B[((i // 18) % 9) * 2:((i // 18) % 9) * 2 + 2]


def last_name(i):
    s = C[(i % 19) * 2:(i % 19) * 2 + 2]
    return s[0].upper() + s[1] + D[((i // 19) % 11) * 2:((i // 19) % 11) * 2 + 2] + E[(i // 209) % 22] + "en"


def phone_digits(i):
    return "%07d" % (i % 10000000)


def cursor(after_id):
    """The service's cursor text for `after` id order (opaque to clients; the bench knows it)."""
    return base64.urlsafe_b64encode(("c1::%d" % after_id).encode()).decode().rstrip("=")


def queries(n):
    q = urllib.parse.quote
    deep = max(1, int(n * 0.9))
    return {
        "q last name": lambda i: "/api/v3/contacts?q=" + q(last_name(i)),
        "q first + last prefix": lambda i: "/api/v3/contacts?q=" + q(first_name(i) + " " + last_name(i)[:4]),
        "q telephone prefix": lambda i: "/api/v3/contacts?q=" + q("020 " + phone_digits(i)[:5]),
        "filter emailAddress": lambda i: "/api/v3/contacts?emailAddress=guest%d@bench.example" % i,
        "filter firstName": lambda i: "/api/v3/contacts?firstName=" + q(first_name(i)),
        "filter lastName": lambda i: "/api/v3/contacts?lastName=" + q(last_name(i)),
        "filter telephone": lambda i: "/api/v3/contacts?telephone=" + q("+3120" + phone_digits(i)),
        "filter accountId": lambda i: "/api/v3/contacts?accountId=ACC-%d" % i,
        "filter contactType": lambda i: "/api/v3/contacts?contactType=GUEST",
        "filter propertyId": lambda i: "/api/v3/contacts?propertyId=none",
        "filter modifiedSince": lambda i: "/api/v3/contacts?modifiedSince="
        + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1767225600 + n - 100)),
        "filter externalId": lambda i: "/api/v3/contacts?externalId=PMS-%d" % i,
        "cursor page at 90%": lambda i: "/api/v3/contacts?size=20&after=" + cursor(deep - (i % 1000)),
        "offset page at 90%": lambda i: "/api/v3/contacts?size=20&page=%d" % (deep // 20),
        "duplicates": lambda i: "/api/v3/contacts/%d/duplicates" % i,
    }


def connect(url):
    parsed = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)


def request(conn, key, method, path, body=None):
    headers = {"Authorization": "Bearer " + key}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    start = time.perf_counter()
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    payload = resp.read()
    elapsed = time.perf_counter() - start
    if resp.status >= 300:
        raise SystemExit("%s %s -> %d %s" % (method, path, resp.status, payload[:300]))
    return elapsed, payload


def run_clients(args, work):
    """Runs work(client_index, conn) on CLIENTS threads; the latencies they return, flattened."""
    results = [[] for _ in range(args.clients)]
    errors = []

    def client(c):
        try:
            conn = connect(args.url)
            results[c] = work(c, conn)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [x for r in results for x in r]


def pct(sorted_ms, p):
    return sorted_ms[min(len(sorted_ms) - 1, int(round(p / 100.0 * (len(sorted_ms) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--contacts", type=int, required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--store", default="?")
    args = ap.parse_args()
    n = args.contacts
    print("store=%s contacts=%d clients=%d requests/client/query=%d" % (args.store, n, args.clients, args.requests))
    print("%-24s %8s %8s %8s %8s %9s" % ("query", "p50 ms", "p95 ms", "p99 ms", "max ms", "matches"))
    for name, make in queries(n).items():
        def work(c, conn, make=make):
            rng = random.Random(c)
            out = []
            for _ in range(args.requests):
                elapsed, _ = request(conn, args.key, "GET", make(rng.randint(1, n)))
                out.append(elapsed * 1000)
            return out

        lat = sorted(run_clients(args, work))
        _, sample = request(connect(args.url), args.key, "GET", make(n // 2))
        body = json.loads(sample)
        matches = body.get("page", {}).get("totalElements", len(body.get("content", [])))
        print("%-24s %8.1f %8.1f %8.1f %8.1f %9s" % (name, pct(lat, 50), pct(lat, 95), pct(lat, 99), lat[-1], matches))

    # 1,000 single creates at CLIENTS clients against one 1,000-item batch.
    def contact(k, tag):
        return {"firstName": "Batch", "lastName": "%s%d" % (tag, k),
                "emailAddresses": [{"emailAddress": "%s%d@load.example" % (tag, k)}],
                "telephones": [{"number": "+3161%07d" % k}]}

    per_client = 1000 // args.clients

    def singles(c, conn):
        return [request(conn, args.key, "POST", "/api/v3/contacts", contact(c * per_client + k, "single"))[0]
                for k in range(per_client)]

    start = time.perf_counter()
    lat = sorted(x * 1000 for x in run_clients(args, singles))
    single_s = time.perf_counter() - start
    conn = connect(args.url)
    batch_s, _ = request(conn, args.key, "POST", "/api/v3/contacts/batch",
                         {"atomic": True, "items": [contact(k, "batch") for k in range(per_client * args.clients)]})
    print("%d single creates at %d clients: %.2f s (p99 %.1f ms); one batch of %d: %.2f s; batch %.1fx faster"
          % (per_client * args.clients, args.clients, single_s, pct(lat, 99), per_client * args.clients, batch_s,
             single_s / batch_s))


if __name__ == "__main__":
    main()
