#!/usr/bin/env python3
"""Bounded abuse run against a running property-contacts service (started by scripts/abuse.sh).

Standard library only. Phases, each printing what it did:

  battery   malformed input on every route: bad JSON, wrong types, huge numbers, deep nesting,
            lists blown up, oversized bodies, wrong content types and framing, trailing data, NUL /
            C0 / C1 / DEL / U+FFFE / U+FFFF / U+202E / lone surrogates in body strings, query values
            and path ids, odd headers (duplicated Authorization, huge headers, W/ and listed If-Match
            tags), odd path ids (+1, 01, %20, .., very long), odd methods, raw HTTP oddities; and in
            the background, bodies declared over the limit that never come. No specific 4xx is
            asserted: the gate is no 5xx, every request answered, the service alive.
  sockets   silent, one-byte and slow-header sockets (a byte every 0.5 s); /livez and API calls
            timed while they are open; how long the server takes to close each kind.
  history   one CRM contact at its documented maxima written K times, then parallel readers page
            through its whole history (limit=50, Link rel="next"); the service's RSS is sampled
            before, during (max) and after.

Then a figures table; the exit status is 1 on any 5xx, a request left unanswered, a crash, /livez
or an API call slower than 1 s under socket pressure, slow-header sockets left open, or RSS over
100 MB during the history reads.

  python3 scripts/abuse.py --addr 127.0.0.1:8080 --key-file admin.key --pid 1234 --scale short
"""

import argparse
import base64
import copy
import json
import os
import random
import re
import select
import socket
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

# --------------------------------------------------------------------------------------------------
# Scales. Every count can be overridden from the environment (ABUSE_<NAME>).

SCALES = {
    # short: every probe kind on every route, fewer variants of each (~23k requests, about a minute
    # and a half on a debug build).
    "short": dict(revisions=100, readers=4, passes=3, idle=150, slow=30, workers=3, wide=False, random=0),
    # full: every variant (~33k), plus `random` seeded combinations of mutations per body route, and
    # the long history.
    "full": dict(revisions=1000, readers=4, passes=3, idle=300, slow=50, workers=3, wide=True, random=400),
}

# ABUSE_RSS_LIMIT_MB=0 reports the RSS without failing on it.
RSS_LIMIT_MB = float(os.environ.get("ABUSE_RSS_LIMIT_MB", "100"))
LIVEZ_LIMIT_S = 1.0
REQUEST_TIMEOUT_S = 20.0


def log(msg):
    print(msg, flush=True)


# --------------------------------------------------------------------------------------------------
# A raw HTTP/1.1 client: every probe is its own connection with `Connection: close`, so request
# lines, headers and bodies can be as broken as wanted (http.client refuses most of them).


class Closed(Exception):
    pass


class BadResponse(Exception):
    pass


class Resp:
    __slots__ = ("status", "headers", "body", "elapsed", "error")

    def __init__(self, status=0, headers=(), body=b"", elapsed=0.0, error=None):
        self.status, self.headers, self.body, self.elapsed, self.error = status, headers, body, elapsed, error

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def json(self):
        return json.loads(self.body)


def b(x):
    if isinstance(x, bytes):
        return x
    return x.encode("utf-8", "surrogatepass")


def build_request(method, target, headers=(), body=None, host=True, close=True, length=True):
    names = {b(k).lower() for k, _ in headers}
    out = [b(method) + b" " + b(target) + b" HTTP/1.1"]
    if host and b"host" not in names:
        out.append(b"Host: 127.0.0.1")
    for k, v in headers:
        out.append(b(k) + b": " + b(v))
    if close and b"connection" not in names:
        out.append(b"Connection: close")
    if body is not None and length and b"content-length" not in names and b"transfer-encoding" not in names:
        out.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(out) + b"\r\n\r\n" + (body or b"")


def read_response(sock, deadline, head=False):
    buf = bytearray()

    def fill():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline")
        sock.settimeout(remaining)
        chunk = sock.recv(262144)
        if not chunk:
            return False
        buf.extend(chunk)
        return True

    while True:
        while True:
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            if len(buf) > (1 << 20):
                raise BadResponse("head over 1 MiB")
            if not fill():
                if not buf:
                    raise Closed()
                raise BadResponse("EOF inside the head")
        head_bytes = bytes(buf[:i])
        del buf[: i + 4]
        lines = head_bytes.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise BadResponse("status line %r" % lines[0][:80])
        status = int(parts[1])
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers.append((k.strip().lower().decode("latin-1"), v.strip().decode("latin-1")))
        if 100 <= status < 200 and status != 101:
            continue
        break
    hd = dict(headers)
    if head or status in (204, 304) or 100 <= status < 200:
        return status, headers, b""
    if "chunked" in hd.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            while b"\r\n" not in buf:
                if not fill():
                    raise BadResponse("EOF inside a chunk size")
            j = buf.find(b"\r\n")
            size = int(bytes(buf[:j]).split(b";")[0].strip(), 16)
            del buf[: j + 2]
            if size == 0:
                return status, headers, bytes(body)
            while len(buf) < size + 2:
                if not fill():
                    raise BadResponse("EOF inside a chunk")
            body += buf[:size]
            del buf[: size + 2]
    if "content-length" in hd:
        n = int(hd["content-length"])
        while len(buf) < n:
            if not fill():
                raise BadResponse("EOF before Content-Length bytes")
        return status, headers, bytes(buf[:n])
    while fill():
        pass
    return status, headers, bytes(buf)


def _send_quietly(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        pass


def exchange(addr, data, timeout=REQUEST_TIMEOUT_S, head=False):
    """Sends `data` on a fresh connection and reads one answer."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    try:
        sock = socket.create_connection(addr, timeout=timeout)
    except OSError as e:
        return Resp(error="connect failed: %s" % e.__class__.__name__, elapsed=time.monotonic() - t0)
    writer = None
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if len(data) <= 65536:
            _send_quietly(sock, data)
        else:
            # The server may answer (413) before it has read everything: read while sending.
            writer = threading.Thread(target=_send_quietly, args=(sock, data), daemon=True)
            writer.start()
        status, headers, body = read_response(sock, deadline, head)
        return Resp(status, headers, body, time.monotonic() - t0)
    except socket.timeout:
        return Resp(error="timeout", elapsed=time.monotonic() - t0)
    except ConnectionResetError:
        return Resp(error="reset", elapsed=time.monotonic() - t0)
    except Closed:
        return Resp(error="closed", elapsed=time.monotonic() - t0)
    except (BadResponse, ValueError, IndexError) as e:
        return Resp(error="bad response: %s" % e, elapsed=time.monotonic() - t0)
    except OSError as e:
        return Resp(error="%s" % e.__class__.__name__, elapsed=time.monotonic() - t0)
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        if writer is not None:
            writer.join(timeout=2)


# --------------------------------------------------------------------------------------------------
# The service process: alive, RSS.


class Service:
    def __init__(self, pid):
        self.pid = pid

    def status_field(self, name):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith(name + ":"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            return None
        return None

    def alive(self):
        if self.pid <= 0:
            return True
        state = self.status_field("State")
        return state is not None and not state.startswith(("Z", "X"))

    def rss_mb(self):
        v = self.status_field("VmRSS")
        return int(v.split()[0]) / 1024.0 if v else None

    def parts_mb(self):
        """(anonymous, file-backed) resident memory: a debug binary's own pages count as file."""
        a, f = self.status_field("RssAnon"), self.status_field("RssFile")
        return (int(a.split()[0]) / 1024.0 if a else None, int(f.split()[0]) / 1024.0 if f else None)

    def hwm_mb(self):
        v = self.status_field("VmHWM")
        return int(v.split()[0]) / 1024.0 if v else None

    def reset_hwm(self):
        """Resets the peak RSS (VmHWM) to the current RSS; false if the kernel refused."""
        try:
            with open("/proc/%d/clear_refs" % self.pid, "w") as f:
                f.write("5")
            return True
        except OSError:
            return False


class RssSampler:
    def __init__(self, service, every=0.05):
        self.service, self.every = service, every
        self.max = 0.0
        self.max_anon = 0.0
        self.window = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            v = self.service.rss_mb()
            if v is not None:
                self.max = max(self.max, v)
                self.window = max(self.window, v)
                self.max_anon = max(self.max_anon, self.service.parts_mb()[0] or 0.0)
            self._stop.wait(self.every)

    def take(self):
        """The largest RSS seen since the last take (then starts again from the current one)."""
        m, self.window = self.window, self.service.rss_mb() or 0.0
        return max(m, self.window)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------------------------------
# Bookkeeping: every request of the run goes through `Run.send`.


class Run:
    def __init__(self, addr, key, service):
        self.addr, self.key, self.service = addr, key, service
        self.lock = threading.Lock()
        self.tried = Counter()  # per phase
        self.statuses = Counter()  # "2xx", "4xx", ...
        self.codes = Counter()
        self.server_errors = []  # (phase, label, method, target, status, excerpt)
        self.unanswered = []  # (phase, label, method, target, error)
        self.largest = (0, 0, "")  # answer bytes, request bytes, label
        self.closes = []  # labels of the requests the server hung up on without an answer
        self.transport = Counter()  # closed / reset without an answer (expected for raw HTTP junk)
        self.max_latency = Counter()  # per phase, seconds
        self.max_latency_label = {}
        self.recent = []  # labels of the last requests, for a crash report
        self.crashed = False
        trace = os.environ.get("ABUSE_TRACE")  # a file: one line per request (phase, label, target, status, ms)
        self.trace = open(trace, "w") if trace else None

    def send(self, phase, label, method, target, headers=(), body=None, head=False, raw=None,
             timeout=REQUEST_TIMEOUT_S, tolerate_close=False):
        data = raw if raw is not None else build_request(method, target, headers, body)
        with self.lock:
            self.recent.append(label)
            del self.recent[:-40]
        r = exchange(self.addr, data, timeout=timeout, head=head or method == "HEAD")
        self.record(phase, label, method, target, r, tolerate_close, data)
        return r

    def record(self, phase, label, method, target, r, tolerate_close=False, data=None):
        with self.lock:
            if self.trace:
                self.trace.write("%s\t%s\t%s\t%s\t%s\t%.0f\n" % (phase, label, method, short(target, 200),
                                                                 r.error or r.status, r.elapsed * 1000))
            self.tried[phase] += 1
            if r.error is None and len(r.body) > self.largest[0]:
                self.largest = (len(r.body), len(data) if data is not None else 0, label)
            if r.elapsed > self.max_latency[phase]:
                self.max_latency[phase] = r.elapsed
                self.max_latency_label[phase] = "%s %s %s" % (label, method, short(target, 80))
            if r.error is None:
                self.statuses["%dxx" % (r.status // 100)] += 1
                self.codes[r.status] += 1
                if r.status >= 500:
                    excerpt = r.body[:240].decode("utf-8", "replace").replace("\n", " ")
                    self.server_errors.append((phase, label, method, target, r.status, excerpt))
                    log("  5xx %d %s %s [%s] %s" % (r.status, method, short(target, 160), label, excerpt))
            elif r.error in ("closed", "reset") or r.error.startswith(("BrokenPipe", "ConnectionAbort")):
                self.transport[r.error] += 1
                self.closes.append("%s (%s)" % (label, r.error))
                if not tolerate_close:
                    # The server hung up without an answer where one was due: worth a line, not a failure
                    # on its own (hyper closes on some framing errors); the alive check decides.
                    self.transport["unexpected"] += 1
                    log("  no answer (%s) %s %s [%s]" % (r.error, method, short(target, 120), label))
            else:
                self.unanswered.append((phase, label, method, target, r.error))
                log("  UNANSWERED (%s after %.1f s) %s %s [%s]" % (r.error, r.elapsed, method,
                                                                  short(target, 120), label))

    def call(self, method, path, doc=None, auth="bearer", headers=(), phase="setup", expect=None):
        """A setup request with a JSON body; returns the response, raising if `expect` is not met."""
        hs = list(auth_headers(auth, self.key)) + list(headers)
        body = None
        if doc is not None:
            body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
            hs.append(("Content-Type", "application/json"))
        r = self.send(phase, "setup", method, path, hs, body)
        if expect is not None and (r.error is not None or r.status not in expect):
            raise SetupError("%s %s answered %s: %s" % (method, path, r.error or r.status,
                                                       r.body[:400].decode("utf-8", "replace")))
        return r


class SetupError(Exception):
    pass


def short(s, n):
    s = s.decode("latin-1") if isinstance(s, bytes) else s
    s = s.encode("unicode_escape").decode("ascii")
    return s if len(s) <= n else s[: n - 20] + "...(%d chars)" % len(s)


def auth_headers(kind, key):
    if kind == "bearer":
        return [("Authorization", "Bearer " + key)]
    if kind == "su":
        return [("Authorization", key), ("app-id", "abuse")]
    if kind == "basic":
        return [("Authorization", "Basic " + base64.b64encode(("abuse:" + key).encode()).decode())]
    return []


# --------------------------------------------------------------------------------------------------
# Valid bodies of every route (the battery mutates them).

BOOKING_CONTACT = {
    "contact_profiles": [{"type": "general"}],
    "contact_person": {"name": "Sarah Jansen", "gender": "female", "job_title": "General Manager",
                       "language_code": "en-gb"},
    "phones": [{"phone_number": "+31201234567", "phone_tech_type": 1, "extension": "12"}],
    "email": "sarah@hotel.example",
    "address": {"address_line": "Damrak 1", "city_name": "Amsterdam", "postal_code": "1012 LG",
                "country_code": "NL", "language_code": "nl", "state_prov_code": "NH"},
}


def body_booking(fx):
    return {"contacts": [copy.deepcopy(BOOKING_CONTACT)]}


def body_su_set(fx):
    c = copy.deepcopy(BOOKING_CONTACT)
    c["phones"][0]["phone_tech_type"] = "1"
    c["contact_person"]["gender"] = "Female"
    return {"hotel_id": "NT7", "channel_hotel_id": "12837615", "contacts": [c]}


def body_su_retrieve(fx):
    return {"hotel_id": "NT7", "channel_hotel_id": "12837615"}


def body_property(fx):
    return {"name": "Hotel Abuse", "channel_mappings": [{"channel": "expedia", "channel_property_id": "E-77"}]}


def contact_doc(tag="0"):
    return {
        "contactType": "GUEST", "title": "Ms", "firstName": "Ann", "lastName": "Abuse",
        "companyName": "Hotel Abuse", "accountId": "ACC-" + tag, "jobTitle": "Manager", "gender": "FEMALE",
        "language": "en-GB", "propertyIds": ["NT7"], "orderReferences": ["ORD-" + tag],
        "emailAddresses": [{"emailAddress": "ann%s@hotel.example" % tag, "type": "WORK", "primary": True}],
        "telephones": [{"number": "+31201234567", "type": "WORK", "extension": "12", "countryCode": "NL"}],
        "addresses": [{"addressLine1": "Damrak 1", "addressLine2": "2nd floor", "city": "Amsterdam",
                       "postcode": "1012 LG", "stateProvince": "NH", "countryCode": "NL"}],
        "customFields": [{"name": "vip", "type": "BOOLEAN", "value": True},
                         {"name": "score", "type": "NUMBER", "value": 3},
                         {"name": "since", "type": "DATE", "value": "2020-01-02"},
                         {"name": "memo", "type": "STRING", "value": "hello"}],
    }


def body_contact(fx):
    return contact_doc()


def body_contact_put(fx):
    d = contact_doc()
    d["id"] = int(fx["id"])
    d["version"] = 1
    return d


def body_merge(fx):
    return {"primaryContactId": int(fx["primary"]), "secondaryContactId": int(fx["secondary"])}


def body_note(fx):
    return {"content": "Called back about the invoice", "author": "ops", "tags": ["billing", "call"]}


def body_fields(fx):
    return contact_doc()["customFields"]


ITEM_BODIES = {
    "addresses": lambda fx: {"addressLine1": "Damrak 2", "addressLine2": "attic", "city": "Amsterdam",
                             "postcode": "1012 LG", "stateProvince": "NH", "countryCode": "NL", "primary": False},
    "emailAddresses": lambda fx: {"emailAddress": "other@hotel.example", "type": "HOME", "primary": False},
    "telephones": lambda fx: {"number": "+31201234568", "type": "HOME", "extension": "1", "countryCode": "NL",
                              "primary": False},
}


def body_customer(fx):
    return {"request_tracking_id": "t-1", "contacts": [
        {"type": "billing", "name": "John Smith", "work_phone": "914-721-2006", "work_phone_extension": "12",
         "mobile_phone": "+1 914 555 0100", "fax": "914-721-2007", "email": "john@example.com",
         "organization_name": "Apple Bank"}]}


def body_patch(fx):
    """A JSON Merge Patch: a scalar changed, one cleared, a collection replaced."""
    return {"firstName": "Anna", "jobTitle": None,
            "emailAddresses": [{"emailAddress": "anna@hotel.example", "type": "WORK", "primary": True}],
            "customFields": [{"name": "vip", "type": "BOOLEAN", "value": False}]}


def body_batch(fx):
    """One upsert by externalId (created by the first valid probe, overwritten by the next ones); the
    item is a contact cut down (crm-create mutates every member of the whole shape)."""
    d = contact_doc("batch")
    d["externalId"] = "EXT-ABUSE-BATCH"
    d["customFields"] = d["customFields"][:1]
    for k in ("title", "companyName", "jobTitle", "gender", "language", "orderReferences", "addresses"):
        del d[k]
    return {"atomic": True, "items": [d]}


# A target that is always refused: a literal address of TEST-NET-1 (RFC 5737, documentation), which
# is not public, so subscribing answers 422 target_not_allowed (abuse.sh leaves
# WEBHOOK_ALLOW_PRIVATE_TARGETS unset): no webhook is ever created and nothing is ever delivered.
# Literal, so that no probe waits on DNS (a name such as hooks.example.com is resolved on every valid
# request, and a resolver that times out makes those take seconds); the path is long enough for the
# probes that insert characters in the middle of the string to hit the path, never the host.
WEBHOOK_URL = "https://192.0.2.1/hooks/property-contacts/abuse"


def body_webhook(fx):
    return {"url": WEBHOOK_URL, "types": ["contact.created", "contact.merged"]}


def body_erasure(fx):
    return {"email": fx["email"]}


# --------------------------------------------------------------------------------------------------
# Fixtures: what the routes' path parameters name. Write routes get fresh ones every few probes, so
# that their probes keep reaching the store (a deleted contact, or one at 20 addresses, would stop
# the rest at a 404 or 422).


class Fixtures:
    def __init__(self, run):
        self.run = run
        self.n = 0
        self.lock = threading.Lock()

    def seq(self):
        with self.lock:
            self.n += 1
            return self.n

    def seed(self):
        run = self.run
        run.call("PUT", "/api/v1/properties/NT7", {"name": "Hotel Seven", "channel_mappings": [
            {"channel": "booking", "channel_property_id": "12837615"}]}, expect=(200, 201))
        run.call("PUT", "/api/v1/properties/ABUSE-PROP", body_property({}), expect=(200, 201))
        run.call("PUT", "/contacts-api/properties/NT7/contacts", body_booking({}), expect=(200,))
        run.call("PUT", "/contacts-api/properties/NT7/contacts", body_booking({}), expect=(200,))
        run.call("POST", "/api/v1/customers/CUST-1/contacts", body_customer({}), expect=(200,))
        self.shared = self.contact()
        r = run.call("POST", "/api/v3/contacts/%s/notes" % self.shared["id"], body_note({}), expect=(200, 201))
        self.shared["noteId"] = str(r.json().get("id", 1))
        for _ in range(2):
            run.call("PUT", "/api/v3/contacts/%s" % self.shared["id"], body_contact_put(self.shared),
                     expect=(200,))
        run.call("PUT", "/api/v1/properties/NT8", {"name": "Hotel Eight"}, expect=(200, 201))
        r = run.call("GET", "/api/v1/properties?limit=1", expect=(200,))
        self.cursor = r.json().get("next_cursor") or "TlQ3"
        # A contact set with two revisions of its own for the diff and restore routes (NT7's history
        # moves with the booking and SU probes).
        run.call("PUT", "/api/v1/properties/ABUSE-SET", {"name": "Set history"}, expect=(200, 201))
        run.call("PUT", "/contacts-api/properties/ABUSE-SET/contacts", body_booking({}), expect=(200,))
        changed = body_booking({})
        changed["contacts"][0]["contact_person"]["job_title"] = "Front Office Manager"
        run.call("PUT", "/contacts-api/properties/ABUSE-SET/contacts", changed, expect=(200,))

    def check(self, after):
        """Re-creates a shared fixture a probe removed (and says which route did it)."""
        run = self.run
        r = run.call("GET", "/api/v1/properties/NT7")
        mapped = r.status == 200 and any(m.get("channel") == "booking" and m.get("channel_property_id") == "12837615"
                                         for m in r.json().get("channel_mappings") or [])
        if not mapped:
            log("  (fixture NT7 lost after %s: re-created)" % after)
            run.call("PUT", "/api/v1/properties/NT7", {"name": "Hotel Seven", "channel_mappings": [
                {"channel": "booking", "channel_property_id": "12837615"}]}, expect=(200, 201))
            run.call("PUT", "/contacts-api/properties/NT7/contacts", body_booking({}), expect=(200,))
        r = run.call("GET", "/api/v3/contacts/%s" % self.shared["id"])
        if r.status != 200:
            log("  (shared contact lost after %s: re-created)" % after)
            note = self.shared.get("noteId")
            self.shared = self.contact()
            self.shared["noteId"] = note or "1"
        if after.startswith("webhook"):
            # The subscribe probes must never leave a subscription behind (it would deliver events):
            # their URL is refused (WEBHOOK_URL); should one be accepted after all, remove it.
            r = run.call("GET", "/api/v1/webhooks")
            for w in (r.json().get("items") or []) if r.status == 200 else []:
                log("  (webhook %s to %s created after %s: deleted)" % (w.get("id"), short(w.get("url", ""), 80),
                                                                       after))
                run.call("DELETE", "/api/v1/webhooks/%s" % w.get("id"))

    def contact(self):
        tag = str(self.seq())
        r = self.run.call("POST", "/api/v3/contacts", contact_doc(tag), expect=(201,))
        c = r.json()
        return {"id": str(c["id"]), "addressId": str(c["addresses"][0]["id"]),
                "emailId": str(c["emailAddresses"][0]["id"]), "phoneId": str(c["telephones"][0]["id"])}

    def nt7(self):
        return {"property_id": "NT7"}

    def nt7_revision(self):
        return {"property_id": "NT7", "revision": "1"}

    def abuse_prop(self):
        return {"property_id": "ABUSE-PROP"}

    def doomed_prop(self):
        pid = "DEL-%d" % self.seq()
        self.run.call("PUT", "/api/v1/properties/" + pid, {"name": "doomed"}, expect=(201,))
        return {"property_id": pid}

    def shared_contact(self):
        return dict(self.shared)

    def merge_pair(self):
        return {"primary": self.contact()["id"], "secondary": self.contact()["id"]}

    def customer(self):
        return {"customer_id": "CUST-1"}

    def set_diff(self):
        return {"property_id": "ABUSE-SET", "from": "1", "to": "2"}

    def set_restore(self):
        return {"property_id": "ABUSE-SET", "revision": "1"}

    def webhook(self):
        # A well-formed id that names no subscription: none can be created (see WEBHOOK_URL).
        return {"webhook_id": "wh_0190c0de000070008000000000000abc", "delivery_id": "1"}

    def erasable(self):
        """A contact of its own for the erasure probes to erase (by its e-mail address)."""
        r = self.run.call("POST", "/api/v3/contacts", contact_doc("erase-%d" % self.seq()), expect=(201,))
        return {"email": r.json()["emailAddresses"][0]["emailAddress"]}

    def docs(self):
        return {"file": "index.html"}

    def none(self):
        return {}


class Route:
    def __init__(self, name, method, template, fixture="none", auth="bearer", body=None, query=None,
                 refresh=None, probe_query=(), ctype="application/json"):
        self.name, self.method, self.template = name, method, template
        self.fixture, self.auth, self.body, self.refresh = fixture, auth, body, refresh
        self.query = query or {}  # param -> valid value (already percent-encoded)
        # Parameters probed one at a time but left out of the valid request (one that excludes
        # another, or a dry_run that would make the valid write store nothing).
        self.probe_query = tuple(probe_query)
        self.ctype = ctype  # the Content-Type of the valid body
        self.params = re.findall(r"\{(\w+)\}", template)


def routes():
    rs = [
        Route("livez", "GET", "/livez", auth=None),
        Route("readyz", "GET", "/readyz", auth=None),
        Route("openapi", "GET", "/openapi.yaml", auth=None),
        Route("metrics", "GET", "/metrics", auth=None),
        Route("docs", "GET", "/docs", auth=None),
        Route("docs-index", "GET", "/docs/", auth=None),
        Route("docs-asset", "GET", "/docs/{file}", fixture="docs", auth=None),
        Route("properties-list", "GET", "/api/v1/properties", query={"limit": "20", "cursor": "TlQ3"}),
        Route("property-get", "GET", "/api/v1/properties/{property_id}", fixture="nt7"),
        Route("property-put", "PUT", "/api/v1/properties/{property_id}", fixture="abuse_prop", body=body_property),
        Route("property-delete", "DELETE", "/api/v1/properties/{property_id}", fixture="doomed_prop", refresh=8),
        Route("set-revisions", "GET", "/api/v1/properties/{property_id}/contacts/revisions", fixture="nt7",
              query={"limit": "10", "before": "5"}),
        Route("set-revision", "GET", "/api/v1/properties/{property_id}/contacts/revisions/{revision}",
              fixture="nt7_revision"),
        Route("set-revision-diff", "GET", "/api/v1/properties/{property_id}/contacts/revisions/{from}/diff/{to}",
              fixture="set_diff"),
        Route("set-revision-restore", "POST",
              "/api/v1/properties/{property_id}/contacts/revisions/{revision}/restore", fixture="set_restore",
              probe_query=["dry_run"]),
        Route("booking-get", "GET", "/contacts-api/properties/{property_id}/contacts", fixture="nt7"),
        Route("booking-put", "PUT", "/contacts-api/properties/{property_id}/contacts", fixture="nt7",
              body=body_booking, probe_query=["dry_run"]),
        Route("su-set", "POST", "/SUAPI/jservice/bdc/property/contact/set", auth="su", body=body_su_set,
              probe_query=["dry_run"]),
        Route("su-retrieve", "POST", "/SUAPI/jservice/bdc/property/contact/retrieve", auth="su",
              body=body_su_retrieve),
        Route("crm-list", "GET", "/api/v3/contacts", query={
            "emailAddress": "ann1%40hotel.example", "firstName": "Ann", "lastName": "Abuse",
            "telephone": "%2B31201234567", "accountId": "ACC-1", "contactType": "GUEST", "propertyId": "NT7",
            "modifiedSince": "2020-01-01T00%3A00%3A00Z", "page": "0", "size": "20", "sort": "lastName%2Casc"},
              probe_query=["externalId"]),
        # Prefix search with a cursor: the `next` the service answers to q=ann abus&size=1 (base64 "c1:1:1").
        Route("crm-search", "GET", "/api/v3/contacts", query={"q": "ann%20abus", "after": "YzE6MTox", "size": "5"}),
        Route("crm-create", "POST", "/api/v3/contacts", body=body_contact, probe_query=["dry_run"]),
        Route("crm-merge", "POST", "/api/v3/contacts/merge", fixture="merge_pair", body=body_merge, refresh=6,
              probe_query=["dry_run"]),
        Route("crm-merge-preview", "POST", "/api/v3/contacts/merge/preview", fixture="merge_pair", body=body_merge),
        Route("crm-batch", "POST", "/api/v3/contacts/batch", body=body_batch),
        Route("crm-get", "GET", "/api/v3/contacts/{id}", fixture="shared_contact",
              query={"includeRevisions": "true"}),
        Route("crm-duplicates", "GET", "/api/v3/contacts/{id}/duplicates", fixture="shared_contact"),
        Route("crm-put", "PUT", "/api/v3/contacts/{id}", fixture="contact", body=body_contact_put, refresh=25,
              probe_query=["dry_run"]),
        Route("crm-patch", "PATCH", "/api/v3/contacts/{id}", fixture="contact", body=body_patch, refresh=25,
              ctype="application/merge-patch+json"),
        Route("crm-delete", "DELETE", "/api/v3/contacts/{id}", fixture="contact", refresh=8),
        Route("crm-revisions", "GET", "/api/v3/contacts/{id}/revisions", fixture="shared_contact",
              query={"after": "1", "limit": "20"}),
        Route("crm-notes-list", "GET", "/api/v3/contacts/{id}/notes", fixture="shared_contact",
              query={"noteId": "1", "after": "0", "limit": "100"}),
        Route("crm-notes-add", "POST", "/api/v3/contacts/{id}/notes", fixture="contact", body=body_note,
              refresh=60),
        Route("crm-fields-get", "GET", "/api/v3/contacts/{id}/customFields", fixture="shared_contact"),
        Route("crm-fields-put", "PUT", "/api/v3/contacts/{id}/customFields", fixture="contact",
              body=body_fields, refresh=25),
    ]
    for kind, param in (("addresses", "addressId"), ("emailAddresses", "emailId"), ("telephones", "phoneId")):
        item = "/api/v3/contacts/{id}/%s/{%s}" % (kind, param)
        rs += [
            Route("crm-%s-add" % kind, "POST", "/api/v3/contacts/{id}/" + kind, fixture="contact",
                  body=ITEM_BODIES[kind], refresh=15),
            Route("crm-%s-put" % kind, "PUT", item, fixture="contact", body=ITEM_BODIES[kind], refresh=25),
            Route("crm-%s-delete" % kind, "DELETE", item, fixture="contact", refresh=8),
            Route("crm-%s-primary" % kind, "PUT", item + "/primary", fixture="contact", refresh=25),
        ]
    rs += [
        Route("customers-post", "POST", "/api/v1/customers/{customer_id}/contacts", fixture="customer",
              auth="basic", body=body_customer, probe_query=["dry_run"]),
        Route("customers-get", "GET", "/api/v1/customers/{customer_id}/contacts", fixture="customer"),
        # Last, so that the feed, the audit log and the histories they read are full of the battery's writes.
        Route("changes", "GET", "/api/v1/changes", query={
            "after": "0-1", "limit": "100", "types": "contact.merged%2Ccontact.deleted%2Ccontact_set.replaced"}),
        Route("audit", "GET", "/api/v1/audit", query={"after": "0-1", "limit": "100"}),
        # Exactly one identifier: the valid request names the e-mail of the booking contact (in NT7's
        # contact-set revisions); phone and contact_id are probed alone.
        Route("privacy-export", "GET", "/api/v1/privacy/subjects", query={"email": "sarah%40hotel.example"},
              probe_query=["phone", "contact_id"]),
        Route("privacy-erase", "POST", "/api/v1/privacy/erasures", fixture="erasable", body=body_erasure,
              refresh=20, probe_query=["dry_run"]),
        Route("webhook-create", "POST", "/api/v1/webhooks", body=body_webhook),
        Route("webhooks-list", "GET", "/api/v1/webhooks"),
        Route("webhook-delete", "DELETE", "/api/v1/webhooks/{webhook_id}", fixture="webhook"),
        Route("webhook-deliveries", "GET", "/api/v1/webhooks/{webhook_id}/deliveries", fixture="webhook",
              query={"limit": "50", "before": "9223372036854775807"}),
        Route("webhook-retry", "POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
              fixture="webhook"),
    ]
    return rs


# --------------------------------------------------------------------------------------------------
# Probes. A probe is (label, mutate) where mutate(req, fx) edits a request description:
#   req = {method, params, query, headers, body (bytes|None), doc (the valid JSON document|None),
#          raw (bytes: the whole request, overrides everything), suffix (appended to the path)}

SENT = "\u2603ABUSE-SENTINEL\u2603"
SENT_JSON = json.dumps(SENT, ensure_ascii=False).encode("utf-8")

# Characters inserted into the middle of every string: NUL, C0 controls, DEL, C1 controls, BOM,
# non-characters, bidi override, line separators, astral.
NASTY_CHARS = [
    ("nul", "\u0000"), ("soh", "\u0001"), ("bel", "\u0007"), ("bs", "\u0008"), ("tab", "\t"), ("lf", "\n"),
    ("cr", "\r"), ("vt", "\u000b"), ("esc", "\u001b"), ("us", "\u001f"), ("del", "\u007f"),
    ("c1-80", "\u0080"), ("nel", "\u0085"), ("c1-9f", "\u009f"), ("nbsp", "\u00a0"), ("shy", "\u00ad"),
    ("zwsp", "\u200b"), ("rlo", "\u202e"), ("lre", "\u202a"), ("ls", "\u2028"), ("ps", "\u2029"),
    ("bom", "\ufeff"), ("fffe", "\ufffe"), ("ffff", "\uffff"), ("1fffe", "\U0001fffe"),
    ("10ffff", "\U0010ffff"), ("emoji", "\U0001f600"), ("combining", "e\u0301\u0301\u0301"),
]
# JSON text that is not a Python str: lone surrogates.
NASTY_ESCAPES = [("lone-high", "\\ud800"), ("lone-low", "\\udfff"), ("swapped-pair", "\\udc00\\ud800"),
                 ("escaped-nul-upper", "\\u0000\\U0000")]
# Raw bytes inside a JSON string (invalid JSON or invalid UTF-8).
NASTY_RAW = [("raw-nul", b"\x00"), ("raw-soh", b"\x01"), ("raw-us", b"\x1f"), ("raw-ff", b"\xff"),
             ("raw-bad-utf8", b"\xc3\x28"), ("raw-overlong-nul", b"\xc0\x80"),
             ("raw-cesu-surrogate", b"\xed\xa0\x80"), ("raw-truncated", b"\xe2\x82")]

WHOLE_STRINGS = [
    ("empty", ""), ("space", " "), ("nul-only", "\u0000"), ("nul-run", "\u0000" * 64),
    ("controls", "".join(chr(c) for c in range(0, 32)) + "\u007f"),
    ("c1", "".join(chr(c) for c in range(0x80, 0xa0))), ("rlo-run", "\u202e" * 20),
    ("nonchars", "\ufffe\uffff" * 10), ("long-10k", "x" * 10000), ("long-100k", "y" * 100000),
    ("emoji-2k", "\U0001f600" * 2000), ("zalgo", "e" + "\u0301" * 4000), ("sql", "' OR 1=1; --"),
    ("percent-00", "%00"), ("traversal", "../../../../etc/passwd"), ("backslashes", "\\" * 64),
    ("template", "${jndi:ldap://x}{{7*7}}"), ("html", "<script>alert(1)</script>"),
]

HUGE_NUMBERS = [b"1e400", b"-1e400", b"1e308", b"123456789012345678901234567890", b"9223372036854775807",
                b"9223372036854775808", b"-9223372036854775809", b"18446744073709551616", b"4.9e-324",
                b"-0", b"0.1", b"1E+2", b"1" + b"0" * 5000]
WRONG_TYPES = [b"null", b"true", b"0", b"-1", b"1.5", b'""', b'"x"', b"[]", b"{}", b"[null]", b'{"":null}',
               b'[[[]]]', b'"' + b"z" * 1000 + b'"']
WRONG_TYPES_SHORT = [b"null", b"0", b'""', b"[]", b"{}", b"1e400", b"123456789012345678901234567890",
                     b"-9223372036854775809"]

QUERY_VALUES = [
    "%00", "a%00b", "1%00", "%00%00%00", "%01", "%1F", "%7F", "%C2%85", "%C2%9F", "%EF%BF%BE", "%EF%BF%BF",
    "%E2%80%AE", "%E2%80%AE1", "%FF", "%C0%AF", "%C0%80", "%ED%A0%80", "%", "%2", "%zz", "+1", "01",
    "%201", "1%20", "%20", "-1", "0", "1e400", "1.5", "99999999999999999999", "9223372036854775807",
    "9223372036854775808", "-9223372036854775809", "true", "", "%5B%5D", "a,b,c", ",", "asc%2C%00",
    "lastName%2Cdesc%2Cextra", "x" * 5000, "%22%27%3C%3E", "..%2F..%2F", "%0D%0ASet-Cookie%3A%20x",
]
QUERY_SHAPES = [
    ("dup-params", "{p}=1&{p}=2"), ("bracket", "{p}[]=1"), ("no-value", "{p}"), ("nul-name", "%00=1"),
    ("empty-name", "=1"), ("ampersands", "&&&"), ("many-params", "&".join("k%d=%%00" % i for i in range(2000))),
    ("nul-key-value", "%00=%00"), ("semicolon", "{p}=1;x=2"), ("hash-in-query", "{p}=1%23x"),
]

PATH_VALUES = [
    "+{v}", "0{v}", "00{v}", "%20{v}", "{v}%20", "{v}%00", "%00{v}", "%00", "%00%00", "..", "%2e%2e", ".",
    "%2E", "-1", "0", "-0", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
    "99999999999999999999999", "1e3", "0x1", "1.0", "{v}.0", "%E2%80%AE{v}", "%C2%85", "%FF", "%7F",
    "%0A", "%0D%0A", "%09{v}", "%01", "{v}%EF%BF%BE", "x" * 300, "9" * 300, "x" * 20000, "{v};x=y", "{v}%2F1",
    "%2F", "%5C", "~{v}", "%7Bid%7D", "{v}%3F", "{v}%23", "%C3%A9", "%F0%9F%98%80", "%25", "%2500",
    "{v}{v}",
]
# Bytes in the request target that are not valid there: a space, NUL, tab, raw UTF-8, DEL.
PATH_RAW = [("raw-space", b" {v}"), ("raw-nul", b"{v}\x00"), ("raw-tab", b"\t{v}"), ("raw-utf8", b"\xc3\xa9{v}"),
            ("raw-del", b"{v}\x7f"), ("raw-ff", b"{v}\xff"), ("raw-cr", b"{v}\r")]

IF_TAGS = ['W/"1"', '"1"', '"1", "2"', '"1","2",W/"3"', "*", '"*"', '""', '"abc"', '"99999999999999999999"',
           '"-1"', '"1', "W/", "1", '"1" "2"', ", ,", ",".join('"%d"' % i for i in range(2000)),
           b'"\xff\xfe"', '"\u00e9"'.encode("latin-1"), 'W/"1", *', '"18446744073709551616"']
DATES = ["garbage", "Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
         "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "-1",
         "Mon, 32 Foo 2020 99:99:99 GMT", "x" * 5000, b"\xff\xfe"]
CONTENT_TYPES = [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                 "application/json; charset=utf-16", "application/json; charset=latin1", "application/json;;;",
                 "application/jsonx", "APPLICATION/JSON", "application/problem+json", "application/merge-patch+json",
                 "*/*", "", b"application/json\xff", "application/json, text/plain", "application/json; " + "a=b;" * 500,
                 "text/json"]


def default_headers(route, key):
    return list(auth_headers(route.auth or "bearer", key)) if route.auth else []


def header_probes(route, key, wide):
    good = "Bearer " + key
    ps = []

    def set_auth(values):
        def m(req, fx):
            req["headers"] = [h for h in req["headers"] if h[0].lower() != "authorization"]
            req["headers"] += [("Authorization", v) for v in values]
        return m

    auths = [
        ("no-auth", []), ("bearer-empty", ["Bearer"]), ("bearer-space", ["Bearer "]), ("bearer-wrong", ["Bearer pck_x"]),
        ("bearer-double-space", ["Bearer  " + key]), ("bearer-lower", ["bearer " + key]),
        ("bearer-tab", ["Bearer\t" + key]), ("bearer-trailing-tab", [good + "\t"]),
        ("bearer-obs-text", [b"Bearer \xff\xfe" + key.encode()]), ("bearer-10k", ["Bearer " + "k" * 10000]),
        ("bearer-60k", ["Bearer " + "k" * 60000]), ("dup-auth-good-good", [good, good]),
        ("dup-auth-good-bad", [good, "Bearer nope"]), ("dup-auth-bad-good", ["Bearer nope", good]),
        ("auth-list", [good + ", " + good]), ("basic-junk", ["Basic !!!"]),
        ("basic-no-colon", ["Basic " + base64.b64encode(key.encode()).decode()]),
        ("basic-user-key", ["Basic " + base64.b64encode((key + ":").encode()).decode()]),
        ("basic-nul", ["Basic " + base64.b64encode(b"a\x00:" + key.encode() + b"\x00").decode()]),
        ("basic-bad-utf8", ["Basic " + base64.b64encode(b"\xff:\xfe").decode()]),
        ("raw-key", [key]), ("scheme-only", ["Digest"]), ("negotiate", ["Negotiate YII="]),
    ]
    if not wide:
        auths = auths[:4] + [a for a in auths if a[0] in ("bearer-obs-text", "bearer-60k", "dup-auth-good-good",
                                                          "dup-auth-good-bad", "dup-auth-bad-good", "basic-nul",
                                                          "basic-bad-utf8", "raw-key")]
    for name, values in auths:
        ps.append(("hdr:" + name, set_auth(values)))

    def add(extra):
        def m(req, fx):
            req["headers"] += extra
        return m

    tags = IF_TAGS if wide else IF_TAGS[:6] + IF_TAGS[15:18]
    for t in tags:
        ps.append(("hdr:if-match %s" % short(t, 30), add([("If-Match", t)])))
        ps.append(("hdr:if-none-match %s" % short(t, 30), add([("If-None-Match", t)])))
    ps.append(("hdr:dup-if-match", add([("If-Match", '"1"'), ("If-Match", '"2"')])))
    for d in (DATES if wide else DATES[:3] + DATES[-2:]):
        ps.append(("hdr:if-modified-since %s" % short(d, 30), add([("If-Modified-Since", d)])))
    others = [
        ("x-request-id-10k", [("X-Request-Id", "r" * 10000)]), ("x-request-id-obs", [("X-Request-Id", b"\xff\xfe\x80")]),
        ("x-request-id-empty", [("X-Request-Id", "")]), ("x-request-id-dup", [("X-Request-Id", "a"), ("X-Request-Id", "b")]),
        ("x-request-id-spaces", [("X-Request-Id", "a b\tc")]), ("huge-header-60k", [("X-Junk", "j" * 60000)]),
        ("huge-header-500k", [("X-Junk", "j" * 500000)]), ("many-headers", [("X-H%d" % i, "v") for i in range(150)]),
        ("accept-junk", [("Accept", "\u00e9/\u00e9".encode("latin-1"))]), ("accept-xml", [("Accept", "application/xml")]),
        ("accept-encoding", [("Accept-Encoding", "gzip, br, zstd, deflate")]), ("range", [("Range", "bytes=0-10")]),
        ("expect-100", [("Expect", "100-continue")]), ("expect-junk", [("Expect", "junk")]),
        ("upgrade-h2c", [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABkAAQAAP__")]),
        ("upgrade-websocket", [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Key", "x")]),
        ("idempotency-key-odd", [("Idempotency-Key", b"\xff" * 10 + b"k" * 5000)]),
        ("request-tracking-id-10k", [("Request-Tracking-Id", "t" * 10000)]),
        ("request-tracking-id-obs", [("Request-Tracking-Id", b"\xe9\xff")]),
        ("request-tracking-id-empty", [("Request-Tracking-Id", "")]),
        ("request-tracking-id-dup", [("Request-Tracking-Id", "a"), ("Request-Tracking-Id", "b")]),
        ("app-id-empty", [("app-id", "")]), ("app-id-obs", [("app-id", b"\xff")]), ("app-id-10k", [("app-id", "a" * 10000)]),
        ("app-id-dup", [("app-id", "a"), ("app-id", "b")]), ("forwarded", [("X-Forwarded-For", "1.2.3.4, " * 500)]),
        ("header-name-odd", [(b"X-\xff", "v")]), ("header-no-value", [("X-Empty", "")]),
    ]
    for name, extra in others:
        ps.append(("hdr:" + name, add(extra)))

    def host(values):
        def m(req, fx):
            req["no_host"] = True
            req["headers"] += [("Host", v) for v in values]
        return m

    for name, values in [("host-missing", []), ("host-empty", [""]), ("host-dup", ["a", "b"]),
                         ("host-junk", ["a b\x7f"]), ("host-long", ["h" * 10000])]:
        ps.append(("hdr:" + name, host(values)))
    return ps


def body_header_probes(route, wide):
    """Content types and framing, for routes with a body."""
    ps = []

    def ctype(values):
        def m(req, fx):
            req["headers"] = [h for h in req["headers"] if h[0].lower() != "content-type"]
            req["headers"] += [("Content-Type", v) for v in values if v is not None]
        return m

    for ct in CONTENT_TYPES:
        ps.append(("ct:%s" % short(ct or "none", 40), ctype([ct])))
    ps.append(("ct:dup-json-text", ctype(["application/json", "text/plain"])))
    ps.append(("ct:dup-text-json", ctype(["text/plain", "application/json"])))

    def framing(kind):
        def m(req, fx):
            body = req_body(req)
            hs = [h for h in req["headers"]]
            if kind == "chunked":
                hs.append(("Transfer-Encoding", "chunked"))
                body = chunked(body, 7)
            elif kind == "chunked-ext":
                hs.append(("Transfer-Encoding", "chunked"))
                body = b"".join(b"%x;ext=\"v\"\r\n%s\r\n" % (len(c), c) for c in split(body, 9)) + b"0\r\nX-T: 1\r\n\r\n"
            elif kind == "chunked-bad-size":
                hs.append(("Transfer-Encoding", "chunked"))
                body = b"zz\r\n" + body + b"\r\n0\r\n\r\n"
            elif kind == "chunked-huge-size":
                hs.append(("Transfer-Encoding", "chunked"))
                body = b"ffffffffffffffffffff\r\n" + body + b"\r\n0\r\n\r\n"
            elif kind == "te-and-cl":
                hs += [("Transfer-Encoding", "chunked"), ("Content-Length", str(len(body)))]
                body = chunked(body, 50)
            elif kind == "te-gzip":
                hs.append(("Transfer-Encoding", "gzip, chunked"))
                body = chunked(body, 50)
            elif kind == "te-identity":
                hs.append(("Transfer-Encoding", "identity"))
            elif kind == "cl-dup-same":
                hs += [("Content-Length", str(len(body))), ("Content-Length", str(len(body)))]
            elif kind == "cl-dup-differ":
                hs += [("Content-Length", str(len(body))), ("Content-Length", str(len(body) + 1))]
            elif kind == "cl-list":
                hs.append(("Content-Length", "%d, %d" % (len(body), len(body))))
            elif kind == "cl-negative":
                hs.append(("Content-Length", "-1"))
            elif kind == "cl-plus":
                hs.append(("Content-Length", "+%d" % len(body)))
            elif kind == "cl-overflow":
                hs.append(("Content-Length", "18446744073709551616"))
            elif kind == "cl-short":
                # Declares fewer bytes than sent: the rest is a second, broken request on the connection.
                hs.append(("Content-Length", str(max(0, len(body) - 3))))
            elif kind == "content-encoding-gzip":
                hs.append(("Content-Encoding", "gzip"))
            elif kind == "content-encoding-junk":
                hs.append(("Content-Encoding", "x-junk, br"))
            req["headers"], req["body"], req["doc"] = hs, body, None
        return m

    for kind in ("chunked", "chunked-ext", "chunked-bad-size", "chunked-huge-size", "te-and-cl", "te-gzip",
                 "te-identity", "cl-dup-same", "cl-dup-differ", "cl-list", "cl-negative", "cl-plus", "cl-overflow",
                 "cl-short", "content-encoding-gzip", "content-encoding-junk"):
        ps.append(("framing:" + kind, framing(kind)))
    return ps


def stalled_body_probes(route):
    """A Content-Length over the body limit, and a body that never comes: the limit alone decides
    the answer (413), so it is due at once, not after the request timeout. Run in the background
    with a timeout past the service's REQUEST_TIMEOUT_SECS, so a wait shows as what it ends in."""
    ps = []
    for name, declared in [("cl-declared-99999999999", "99999999999"), ("cl-declared-262145", "262145")]:
        def m(req, fx, declared=declared):
            req["headers"] = req["headers"] + [("Content-Length", declared)]
            req["body"], req["doc"] = b'{"a":', None
        ps.append(("stalled:" + name, m))
    return ps


def split(data, n):
    return [data[i: i + n] for i in range(0, len(data), n)] or [b""]


def chunked(data, n):
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in split(data, n) if c) + b"0\r\n\r\n"


def req_body(req):
    if req.get("body") is not None:
        return req["body"]
    if req.get("doc") is not None:
        return json.dumps(req["doc"], ensure_ascii=False).encode("utf-8")
    return None


# -- JSON document mutation ------------------------------------------------------------------------


def nodes(doc, path=()):
    """Every node path of `doc` (lists: their first element only), root excluded."""
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((path + (k,), v))
            out += nodes(v, path + (k,))
    elif isinstance(doc, list) and doc:
        out.append((path + (0,), doc[0]))
        out += nodes(doc[0], path + (0,))
    return out


def set_at(doc, path, value):
    d = doc
    for p in path[:-1]:
        d = d[p]
    d[path[-1]] = value


def del_at(doc, path):
    d = doc
    for p in path[:-1]:
        d = d[p]
    del d[path[-1]]


def with_raw(doc, path, raw):
    """`doc` serialised with the node at `path` replaced by the raw bytes `raw`."""
    d = copy.deepcopy(doc)
    set_at(d, path, SENT)
    text = json.dumps(d, ensure_ascii=False).encode("utf-8")
    return text.replace(SENT_JSON, raw, 1)


def pstr(path):
    return "/" + "/".join(str(p) for p in path)


def body_probes(route, sample_doc, wide):
    ps = []

    def raw_body(data):
        def m(req, fx):
            req["body"], req["doc"] = data(req) if callable(data) else data, None
        return m

    def valid(req):
        return json.dumps(req["doc"], ensure_ascii=False).encode("utf-8")

    syntax = [
        ("empty", b""), ("open-brace", b"{"), ("close-brace", b"}"), ("word", b"nope"), ("missing-value", b'{"a":}'),
        ("open-array", b"[1,2"), ("single-quotes", b"{'a':1}"), ("bom-utf16", b"\xff\xfe{\x00}\x00"),
        ("null", b"null"), ("array", b"[]"), ("string", b'"s"'), ("zero", b"0"), ("true", b"true"), ("object", b"{}"),
        ("nan", b"NaN"), ("infinity", b"Infinity"), ("minus", b"-"), ("huge-exponent", b"1e999999"),
        ("nul-byte", b"\x00"), ("nul-bytes-1k", b"\x00" * 1024), ("whitespace-only", b" \t\r\n" * 100),
        ("comment", b"/* c */ {}"), ("trailing-comma", b'{"a":1,}'), ("dup-keys", b'{"a":1,"a":2}'),
        ("deep-array-129", b"[" * 129 + b"]" * 129), ("deep-array-100k", b"[" * 100000 + b"]" * 100000),
        ("deep-object-30k", b'{"a":' * 30000 + b"1" + b"}" * 30000), ("deep-unclosed-200k", b"[" * 200000),
        ("key-10k", b'{"' + b"k" * 10000 + b'":1}'), ("many-keys", b"{" + b",".join(b'"k%d":1' % i for i in range(20000)) + b"}"),
    ]
    for name, data in syntax:
        ps.append(("json:" + name, raw_body(data)))
    trailing = [("trailing-x", b"x"), ("trailing-object", b"{}"), ("trailing-array", b" []"), ("trailing-nul", b"\x00"),
                ("trailing-whitespace", b" \n\t\r"), ("trailing-comma", b","), ("trailing-brace", b"}"),
                ("trailing-doc", None)]
    for name, extra in trailing:
        ps.append(("json:" + name, raw_body(lambda req, e=extra: valid(req) + (valid(req) if e is None else e))))
    ps.append(("json:bom-utf8", raw_body(lambda req: b"\xef\xbb\xbf" + valid(req))))
    ps.append(("json:leading-nul", raw_body(lambda req: b"\x00" + valid(req))))
    ps.append(("json:utf16", raw_body(lambda req: valid(req).decode("utf-8").encode("utf-16"))))

    all_nodes = nodes(sample_doc)
    types = WRONG_TYPES + HUGE_NUMBERS if wide else WRONG_TYPES_SHORT
    string_nodes = [(p, v) for p, v in all_nodes if isinstance(v, str)]
    for path, value in all_nodes:
        for raw in types:
            ps.append(("type:%s=%s" % (pstr(path), short(raw, 24)),
                       raw_body(lambda req, p=path, r=raw: with_raw(req["doc"], p, r))))
        if not wide and isinstance(value, (int, float)) and not isinstance(value, bool):
            for raw in HUGE_NUMBERS:
                ps.append(("number:%s=%s" % (pstr(path), short(raw, 24)),
                           raw_body(lambda req, p=path, r=raw: with_raw(req["doc"], p, r))))

        def drop(req, fx, p=path):
            d = copy.deepcopy(req["doc"])
            try:
                del_at(d, p)
            except (KeyError, IndexError):
                pass
            req["doc"] = d
        ps.append(("missing:%s" % pstr(path), drop))

    # Strings: every nasty character in the middle of every string member's valid value, so that the
    # value still passes validation where it can and reaches the store.
    def mid_insert(req, p, text_json):
        d = copy.deepcopy(req["doc"])
        v = d
        for k in p:
            v = v[k]
        v = v if isinstance(v, str) else str(v)
        mid = max(1, len(v) // 2) if v else 0
        raw = (json.dumps(v[:mid], ensure_ascii=False)[:-1] + text_json + json.dumps(v[mid:], ensure_ascii=False)[1:])
        return with_raw(d, p, raw.encode("utf-8", "surrogatepass"))

    for path, value in string_nodes:
        for name, ch in NASTY_CHARS:
            text_json = json.dumps(ch, ensure_ascii=False)[1:-1]
            ps.append(("str:%s+%s" % (pstr(path), name), raw_body(lambda req, p=path, t=text_json: mid_insert(req, p, t))))
        ps.append(("str:%s+nul-escaped" % pstr(path),
                   raw_body(lambda req, p=path: mid_insert(req, p, "\\u0000"))))
        ps.append(("str:%s+nul-end" % pstr(path),
                   raw_body(lambda req, p=path: with_raw(req["doc"], p, json.dumps(
                       (value_at(req["doc"], p) or "") + "\u0000").encode()))))
        for name, esc in NASTY_ESCAPES:
            ps.append(("str:%s+%s" % (pstr(path), name), raw_body(lambda req, p=path, t=esc: mid_insert(req, p, t))))
        for name, s in (WHOLE_STRINGS if wide else WHOLE_STRINGS[:4] + WHOLE_STRINGS[8:10]):
            ps.append(("str:%s=%s" % (pstr(path), name),
                       raw_body(lambda req, p=path, s=s: with_raw(req["doc"], p, json.dumps(s, ensure_ascii=False).encode()))))
    # Raw (invalid) bytes inside strings: a parser matter, two string members are enough.
    for path, value in string_nodes[:2]:
        for name, raw in NASTY_RAW:
            def rawmid(req, p=path, r=raw):
                v = value_at(req["doc"], p)
                v = v if isinstance(v, str) else ""
                mid = max(1, len(v) // 2) if v else 0
                return with_raw(req["doc"], p, b'"' + v[:mid].encode() + r + v[mid:].encode() + b'"')
            ps.append(("raw:%s+%s" % (pstr(path), name), raw_body(rawmid)))

    # Unknown and odd members on every object.
    object_paths = [()] + [p for p, v in all_nodes if isinstance(v, dict)]
    for path in object_paths:
        for name, key, val in [("unknown", "unknownMember", 1), ("nul-key", "\u0000", 1), ("empty-key", "", 1),
                               ("proto", "__proto__", {"x": 1}), ("long-key", "k" * 5000, 1),
                               ("case-key", None, None)]:
            def add_member(req, fx, p=path, k=key, v=val):
                d = copy.deepcopy(req["doc"])
                o = value_at(d, p) if p else d
                if not isinstance(o, dict):
                    return
                if k is None:  # the first member with its key upper-cased
                    first = next(iter(o), None)
                    if first is None:
                        return
                    o[first[:1].upper() + first[1:] if first[:1].islower() else first.lower()] = o.pop(first)
                else:
                    o[k] = v
                req["doc"] = d
            ps.append(("member:%s+%s" % (pstr(path), name), add_member))
    # Duplicate top-level keys: a wrong-typed twin before and after the valid one.
    if isinstance(sample_doc, dict):
        for k in sample_doc:
            kj = json.dumps(k).encode()
            ps.append(("dup:%s-null-first" % k, raw_body(lambda req, kj=kj: b"{" + kj + b":null," + valid(req)[1:])))
            ps.append(("dup:%s-null-last" % k, raw_body(lambda req, kj=kj: valid(req)[:-1] + b"," + kj + b":null}")))
    # Lists blown up: many copies of their first item, many zeros, many empty objects (error amplification).
    list_paths = [p for p, v in all_nodes if isinstance(v, list)]
    if isinstance(sample_doc, list):
        list_paths = [()] + list_paths
    for path in list_paths:
        for name, make in [("copies", None), ("zeros-50k", b"[" + b",".join([b"0"] * 50000) + b"]"),
                           ("objects-30k", b"[" + b",".join([b"{}"] * 30000) + b"]"),
                           ("deep-5k", b"[" * 5000 + b"]" * 5000)]:
            def blow(req, p=path, make=make):
                if make is not None:
                    return with_raw(req["doc"], p, make) if p else make
                lst = value_at(req["doc"], p) if p else req["doc"]
                item = json.dumps(lst[0] if lst else 0, ensure_ascii=False).encode()
                n = max(1, 200000 // (len(item) + 1))
                raw = b"[" + b",".join([item] * n) + b"]"
                return with_raw(req["doc"], p, raw) if p else raw
            ps.append(("many:%s=%s" % (pstr(path), name), raw_body(blow)))
    # Oversized bodies (the limit is 256 KiB = 262144 bytes).
    limit = 262144
    first_string = string_nodes[0][0] if string_nodes else None

    def padded(total, req):
        base = valid(req)
        if first_string is None:
            return base + b" " * max(0, total - len(base))
        skeleton = with_raw(req["doc"], first_string, b'""')
        return with_raw(req["doc"], first_string, b'"' + b"p" * max(0, total - len(skeleton)) + b'"')

    for name, total in [("at-limit", limit), ("limit+1", limit + 1), ("1MiB", 1 << 20), ("16MiB", 16 << 20)]:
        ps.append(("size:string-" + name, raw_body(lambda req, t=total: padded(t, req))))
    ps.append(("size:whitespace-at-limit", raw_body(lambda req: valid(req) + b" " * max(0, limit - len(valid(req))))))
    ps.append(("size:whitespace-limit+1", raw_body(lambda req: valid(req) + b" " * max(0, limit + 1 - len(valid(req))))))

    def chunked_big(req, fx):
        req["headers"] = req["headers"] + [("Transfer-Encoding", "chunked")]
        req["body"], req["doc"] = chunked(padded(300000, req), 8192), None
    ps.append(("size:chunked-300k", chunked_big))
    return ps


def value_at(doc, path):
    v = doc
    for k in path:
        v = v[k]
    return v


def query_probes(route, wide):
    ps = []
    params = list(route.query) + [p for p in route.probe_query if p not in route.query] or ["x"]
    values = QUERY_VALUES if wide else [v for v in QUERY_VALUES if "%" in v or v in ("+1", "01", "1e400",
                                                                                     "9223372036854775808")]
    for p in params:
        for v in values:
            def m(req, fx, p=p, v=v):
                req["query"] = "%s=%s" % (p, v)
            ps.append(("query:%s=%s" % (p, short(v, 24)), m))
            if wide and route.query:
                def m2(req, fx, p=p, v=v):
                    req["query"] = "&".join("%s=%s" % (k, v if k == p else val) for k, val in route.query.items())
                ps.append(("query-full:%s=%s" % (p, short(v, 24)), m2))
        for name, shape in QUERY_SHAPES:
            def m3(req, fx, s=shape.replace("{p}", p)):
                req["query"] = s
            ps.append(("query-shape:%s:%s" % (p, name), m3))
    # An unknown parameter with NUL and controls on every route.
    for v in ("%00", "a%00b", "%01%1F%7F", "%C2%85", "%EF%BF%BF", "%E2%80%AE"):
        def m4(req, fx, v=v):
            req["query"] = ((req["query"] + "&") if req["query"] else "") + "unknownParam=" + v
        ps.append(("query-extra:unknownParam=%s" % v, m4))

    def raw_query(data):
        def m(req, fx):
            req["raw_target_suffix"] = data
        return m
    for name, data in [("raw-nul", b"?x=\x00"), ("raw-space", b"?x= 1"), ("raw-utf8", b"?x=\xc3\xa9"),
                       ("raw-del", b"?x=\x7f"), ("raw-ff", b"?x=\xff")]:
        ps.append(("query-raw:" + name, raw_query(data)))
    return ps


def path_probes(route, wide):
    ps = []
    values = PATH_VALUES if wide else [v for v in PATH_VALUES if len(v) < 400 or v.startswith("x" * 20000)]
    for param in route.params:
        for v in values:
            def m(req, fx, param=param, v=v):
                req["params"][param] = v.replace("{v}", fx.get(param, "1"))
            ps.append(("path:{%s}=%s" % (param, short(v, 24)), m))
        for name, raw in PATH_RAW:
            def m2(req, fx, param=param, raw=raw):
                req["params"][param] = raw.replace(b"{v}", b(fx.get(param, "1")))
            ps.append(("path:{%s}=%s" % (param, name), m2))
    # Path shapes of every route.
    for name, how in [("trailing-slash", lambda t: t + "/"), ("double-slash", lambda t: t.replace("/", "//", 2)),
                      ("dot-segment", lambda t: t + "/./"), ("dotdot", lambda t: t + "/../" + t.rsplit("/", 1)[-1]),
                      ("upper", lambda t: t.upper()), ("suffix-nul", lambda t: t + "%00"),
                      ("suffix-json", lambda t: t + ".json"), ("encoded-slashes", lambda t: t.replace("/", "%2F")),
                      ("semicolon", lambda t: t + ";jsessionid=1"), ("extra-segment", lambda t: t + "/x"),
                      ("backslash", lambda t: t.replace("/", "\\"))]:
        def m3(req, fx, how=how):
            req["path_transform"] = how
        ps.append(("path-shape:" + name, m3))
    return ps


SHARED_FIXTURES = ("nt7", "nt7_revision", "shared_contact", "customer", "abuse_prop", "docs", "none")


def method_probes(route):
    ps = []
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FOO", "get",
                   "M" * 200, "GET\x00"):
        if method == route.method:
            continue
        if method == "DELETE" and route.fixture in SHARED_FIXTURES and route.params:
            continue  # would delete what the other routes' probes need; the delete routes have their own

        def m(req, fx, method=method):
            req["method"] = method
        ps.append(("method:%s" % short(method, 12), m))
    return ps


def render(route, req, key):
    params = {}
    for k, v in req["params"].items():
        params[k] = v
    target = route.template.encode()
    for k, v in params.items():
        target = target.replace(b"{%s}" % k.encode(), b(v))
    if req.get("path_transform"):
        target = b(req["path_transform"](target.decode("latin-1")).encode("latin-1"))
    if req.get("query"):
        target += b"?" + b(req["query"])
    if req.get("raw_target_suffix"):
        target += req["raw_target_suffix"]
    headers = list(req["headers"])
    body = req_body(req)
    names = {b(k).lower() for k, _ in headers}
    data = build_request(req["method"], target, headers, body, host=not req.get("no_host"),
                         length=not ({b"content-length", b"transfer-encoding"} & names))
    return target, data


def make_job(route, label, mutate, fx, key):
    req = {"method": route.method, "params": dict(fx),
           "query": "&".join("%s=%s" % kv for kv in route.query.items()) if label == "valid" else "",
           "headers": default_headers(route, key), "body": None, "doc": route.body(fx) if route.body else None}
    if route.body:
        req["headers"].append(("Content-Type", route.ctype))
    mutate(req, fx)
    target, data = render(route, req, key)
    return ("%s %s" % (route.name, label), req["method"], target, data)


def route_probes(route, fx_sample, key, wide):
    sample_doc = route.body(fx_sample) if route.body else None
    probes = [("valid", lambda req, fx: None)]
    probes += path_probes(route, wide)
    probes += query_probes(route, wide)
    probes += method_probes(route)
    probes += header_probes(route, key, wide)
    if route.body:
        probes += body_header_probes(route, wide)
        probes += body_probes(route, sample_doc, wide)
    elif route.method in ("PUT", "POST", "DELETE"):
        # Bodyless writes still get a few bodies they do not expect.
        for name, data in [("json", b'{"a":1}'), ("nul", b"\x00"), ("big", b"x" * 300000), ("deep", b"[" * 50000)]:
            def m(req, fx, data=data):
                req["body"] = data
                req["headers"] = req["headers"] + [("Content-Type", "application/json")]
            probes.append(("body-on-bodyless:" + name, m))
    return probes


def random_probes(route, sample_doc, n, seed):
    """`n` seeded combinations: two to four mutations of one document at once (a nasty string here,
    a wrong type there, a member dropped or added)."""
    rng = random.Random("%s/%d" % (route.name, seed))
    all_nodes = nodes(sample_doc)
    if not all_nodes:
        return []
    ps = []
    for i in range(n):
        picks = []
        for _ in range(rng.randint(2, 4)):
            path, value = rng.choice(all_nodes)
            kind = rng.random()
            if isinstance(value, str) and kind < 0.5:
                name, ch = rng.choice(NASTY_CHARS + [(w[0], w[1]) for w in WHOLE_STRINGS[:10]])
                picks.append(("str", path, name, ch))
            elif kind < 0.8:
                picks.append(("type", path, None, rng.choice(WRONG_TYPES + HUGE_NUMBERS)))
            elif kind < 0.9:
                picks.append(("drop", path, None, None))
            else:
                picks.append(("add", path, None, rng.choice(["\u0000", "x" * 300, "unknown"])))

        def m(req, fx, picks=picks):
            d = copy.deepcopy(req["doc"])
            raws = []
            for j, (kind, path, name, val) in enumerate(picks):
                try:
                    cur = value_at(d, path)
                    if cur is None or (isinstance(cur, str) and cur.startswith(SENT)):
                        continue
                    if kind == "str" and isinstance(cur, str):
                        mid = max(1, len(cur) // 2)
                        set_at(d, path, cur[:mid] + val + cur[mid:])
                    elif kind == "type":
                        marker = "%s%d" % (SENT, j)
                        set_at(d, path, marker)
                        raws.append((json.dumps(marker, ensure_ascii=False).encode("utf-8"), val))
                    elif kind == "drop":
                        del_at(d, path)
                    elif kind == "add" and isinstance(cur, dict):
                        cur[val] = val
                except (KeyError, IndexError, TypeError):
                    continue  # an earlier pick removed or replaced this node
            text = json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass")
            for marker, raw in raws:
                text = text.replace(marker, raw, 1)
            req["body"], req["doc"] = text, None
        ps.append(("random:%d" % i, m))
    return ps


def battery(run, fixtures, wide, workers, request_timeout, sampler, n_random=0):
    t0 = time.monotonic()
    all_routes = routes()
    log("battery: %d routes, %s" % (len(all_routes), "every variant" if wide else "short"))
    # Bodies that never come, in the background: each may take up to the request timeout.
    stalled = []
    for route in all_routes:
        if route.body:
            fx = getattr(fixtures, route.fixture)()
            stalled += [make_job(route, label, m, fx, run.key) for label, m in stalled_body_probes(route)]
    background = ThreadPoolExecutor(max_workers=max(1, len(stalled)))
    stalled_done = [background.submit(run.send, "stalled", j[0], j[1], j[2], raw=j[3], tolerate_close=True,
                                      timeout=request_timeout + 10) for j in stalled]
    sampler.take()
    for route in all_routes:
        if not run.service.alive():
            run.crashed = True
            break
        fx = getattr(fixtures, route.fixture)()
        probes = route_probes(route, fx, run.key, wide)
        if n_random and route.body:
            probes += random_probes(route, route.body(fx), n_random, 1)
        started = time.monotonic()
        refresh = route.refresh or len(probes)
        chunks = [probes[i: i + refresh] for i in range(0, len(probes), refresh)]
        before = run.tried["battery"]
        for ci, chunk in enumerate(chunks):
            if ci > 0:
                fx = getattr(fixtures, route.fixture)()
            jobs = [make_job(route, label, mutate, fx, run.key) for label, mutate in chunk]
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(lambda j: run.send("battery", j[0], j[1], j[2], raw=j[3], tolerate_close=True), jobs))
            if not run.service.alive():
                run.crashed = True
                log("  the service died during route %s; the last probes sent: %s" % (route.name, run.recent[-10:]))
                break
        if run.crashed:
            break
        log("  %-28s %5d probes  %5.1f s  RSS max %5.1f MB" % (route.name, run.tried["battery"] - before,
                                                              time.monotonic() - started, sampler.take()))
        fixtures.check(route.name)
    if run.crashed:
        background.shutdown(wait=False, cancel_futures=True)
        return
    # Raw HTTP oddities, not tied to a route.
    raws = [
        ("http10", b"GET /livez HTTP/1.0\r\n\r\n"), ("http09", b"GET /livez\r\n\r\n"),
("tls-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64),
        ("absolute-form", b"GET http://127.0.0.1/livez HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        ("asterisk", b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("connect", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("lf-only", b"GET /livez HTTP/1.1\nHost: x\nConnection: close\n\n"),
        ("tabs", b"GET\t/livez\tHTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("version-junk", b"GET /livez HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("folded-header", b"GET /livez HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\nConnection: close\r\n\r\n"),
        ("space-before-colon", b"GET /livez HTTP/1.1\r\nHost : x\r\nConnection: close\r\n\r\n"),
        ("nul-in-header", b"GET /livez HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\nConnection: close\r\n\r\n"),
        ("cr-in-header", b"GET /livez HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\nConnection: close\r\n\r\n"),
        ("long-request-line", b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("empty-lines", b"\r\n" * 100 + b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("garbage", bytes(random.Random(1).randrange(256) for _ in range(4096))),
        ("pipelined-50", b"".join(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n" for _ in range(49))
         + b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("pipelined-junk", b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\nJUNK\r\n\r\n"),
    ]
    for name, data in raws:
        run.send("raw", "raw " + name, "RAW", name, raw=data, tolerate_close=True)
    # HTTP/2 with prior knowledge (the server speaks both): the answer is a SETTINGS frame, not a status line.
    h2 = raw_stream(run.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00",
                    timeout=5, first=9)
    run.tried["raw"] += 1
    if len(h2) >= 9 and h2[3] == 4:
        run.statuses["h2"] += 1
    else:
        run.unanswered.append(("raw", "raw http2-preface", "RAW", "h2 preface", "no SETTINGS frame: %r" % h2[:20]))
    # Pipelined answers: count every status line of the stream, not only the first.
    data = b"".join(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n" for _ in range(30)) + \
        b"GET /api/v1/properties/NT7%00 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + run.key.encode() + \
        b"\r\nConnection: close\r\n\r\n"
    stream = raw_stream(run.addr, data)
    codes = [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", stream)]
    run.tried["raw"] += len(codes)
    for c in codes:
        run.statuses["%dxx" % (c // 100)] += 1
        if c >= 500:
            run.server_errors.append(("raw", "raw pipelined:30-livez-then-NT7%00", "GET",
                                      "/livez x30, /api/v1/properties/NT7%00", c, ""))
    log("  %-28s %5d probes  (slowest %.0f ms: %s)" % ("raw HTTP", run.tried["raw"], run.max_latency["raw"] * 1000,
                                                         run.max_latency_label.get("raw", "")))
    waited = time.monotonic()
    for f in stalled_done:
        f.result()
    background.shutdown()
    log("  %-28s %5d probes  (waited %.1f s for them at the end)" % ("stalled bodies", len(stalled),
                                                                     time.monotonic() - waited))
    log("battery done: %d requests in %.1f s" % (run.tried["battery"] + run.tried["raw"] + run.tried["stalled"],
                                                  time.monotonic() - t0))


def raw_stream(addr, data, timeout=10, first=None):
    """What the server sends back for `data`, until it closes (or `first` bytes came)."""
    s = socket.create_connection(addr, timeout=timeout)
    out = bytearray()
    try:
        s.sendall(data)
        while first is None or len(out) < first:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    finally:
        s.close()
    return bytes(out)


# --------------------------------------------------------------------------------------------------
# Idle and slow sockets.


def sockets_phase(run, fixtures, n_idle, n_slow, header_timeout, idle_timeout):
    """Silent sockets (connect, send nothing), one-byte sockets (send "G", then nothing) and
    slow-header sockets (a request line, then a header byte every 0.5 s); while they are open,
    /livez and two API calls are timed; then how long the server takes to close each group."""
    n_partial = max(1, n_slow // 3)
    log("sockets: %d silent + %d one-byte + %d slow-header (a byte every 0.5 s); header timeout %g s, idle "
        "timeout %g s" % (n_idle, n_partial, n_slow, header_timeout, idle_timeout))
    opened = time.monotonic()
    groups = {"silent": [], "one-byte": [], "slow": []}  # entries: [socket, opened at, closed after]
    for _ in range(n_idle):
        groups["silent"].append([socket.create_connection(run.addr, timeout=5), time.monotonic(), None])
    for _ in range(n_partial):
        sk = socket.create_connection(run.addr, timeout=5)
        sk.sendall(b"G")
        groups["one-byte"].append([sk, time.monotonic(), None])
    for _ in range(n_slow):
        sk = socket.create_connection(run.addr, timeout=5)
        sk.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        groups["slow"].append([sk, time.monotonic(), None])
    stop = threading.Event()

    def trickle():
        while not stop.wait(0.5):
            for entry in groups["slow"]:
                if entry[2] is None:
                    try:
                        entry[0].send(b"a")
                    except OSError:
                        entry[2] = time.monotonic() - entry[1]
    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    time.sleep(0.3)
    livez, api = [], []
    contact = fixtures.shared["id"]
    for i in range(5):
        r = run.send("sockets", "livez under pressure", "GET", "/livez")
        livez.append((r.elapsed, r.status, r.error))
        r = run.send("sockets", "api under pressure", "GET", "/api/v3/contacts/%s" % contact,
                     headers=auth_headers("bearer", run.key))
        api.append((r.elapsed, r.status, r.error))
        r = run.send("sockets", "api under pressure", "GET", "/api/v1/properties?limit=5",
                     headers=auth_headers("bearer", run.key))
        api.append((r.elapsed, r.status, r.error))
        time.sleep(0.1)
    measured = time.monotonic() - opened
    # Wait for the server to close them (EOF or reset seen by select, or a failed send).
    give_up = opened + max(header_timeout, idle_timeout) + 4
    entries = [e for g in groups.values() for e in g]
    while time.monotonic() < give_up:
        pending = {e[0]: e for e in entries if e[2] is None}
        if not pending:
            break
        readable, _, _ = select.select(list(pending), [], [], 0.05)
        now = time.monotonic()
        for sk in readable:
            try:
                data = sk.recv(4096)
            except OSError:
                data = b""
            if not data:
                pending[sk][2] = now - pending[sk][1]
    stop.set()
    trickler.join()
    for e in entries:
        e[0].close()
    after = run.send("sockets", "livez after", "GET", "/livez")
    res = {"livez_max": max(x[0] for x in livez), "api_max": max(x[0] for x in api),
           "livez_ok": all(x[1] == 200 for x in livez), "api_ok": all(x[1] == 200 for x in api),
           "measured_within": measured, "after_ok": after.status == 200, "groups": {}}
    log("  /livez max %.0f ms, API max %.0f ms (measured while the sockets were open, first %.1f s)"
        % (res["livez_max"] * 1000, res["api_max"] * 1000, measured))
    for name, g in groups.items():
        closed = [e[2] for e in g if e[2] is not None]
        res["groups"][name] = (len(closed), len(g), min(closed) if closed else None, max(closed) if closed else None)
        log("  %-9s sockets closed by the server: %d/%d, after %s to %s s" % (
            name, len(closed), len(g), fmt(min(closed) if closed else None), fmt(max(closed) if closed else None)))
    res["slow_closed"], res["slow_total"] = res["groups"]["slow"][:2]
    res["idle_total"] = n_idle
    res["wait"] = give_up - opened
    return res


def fmt(x, d=1):
    return "-" if x is None else ("%." + str(d) + "f") % x


# --------------------------------------------------------------------------------------------------
# Long histories.


def fit(prefix, n, fill="x"):
    s = prefix + fill * n
    return s[:n]


def max_contact_body(prop_ids, n, full=True):
    """A contact at every documented maximum (src/domain/crm.rs); `n` varies the scalars."""
    tag = "%05d" % n
    d = {
        "contactType": "GUEST", "title": fit("T" + tag, 50), "firstName": fit("First" + tag + "-", 100),
        "lastName": fit("Last" + tag + "-", 100), "companyName": fit("Company" + tag + "-", 200),
        "accountId": fit("A" + tag + "-", 64), "jobTitle": fit("Job" + tag + "-", 100), "gender": "OTHER",
        "language": "eng-abcdefgh-abcdefgh-abcdefgh-abcd",
    }
    if not full:
        return d
    d["propertyIds"] = list(prop_ids)
    d["orderReferences"] = [fit("ORD-%03d-%s-" % (i, tag), 64) for i in range(100)]
    domain = "b" * 63 + "." + "c" * 63 + "." + "d" * 61
    d["emailAddresses"] = [{"emailAddress": "%02d%s@%s" % (i, "a" * 62, domain), "type": fit("TYPE%02d" % i, 32)}
                           for i in range(20)]
    d["telephones"] = [{"number": fit("+31 20 123 45 %02d" % i, 40, " "), "type": fit("PHONE%02d" % i, 32),
                        "extension": "1234567890", "countryCode": "NL"} for i in range(20)]
    d["addresses"] = [{"addressLine1": fit("%02d Line one " % i, 255), "addressLine2": fit("%02d Line two " % i, 255),
                       "city": fit("City%02d " % i, 100), "postcode": fit("PC%02d-" % i, 20, "9"),
                       "stateProvince": fit("State%02d " % i, 100), "countryCode": "AE"} for i in range(20)]
    d["customFields"] = [{"name": fit("field%03d-" % i, 100), "type": "STRING", "value": fit("value%03d-%s-" % (i, tag), 1000)}
                         for i in range(100)]
    return d


def history_phase(run, n_revisions, n_readers, passes):
    log("history: one contact at its maxima, %d writes, then %d readers x %d passes (limit=50)"
        % (n_revisions, n_readers, passes))
    t0 = time.monotonic()
    prop_ids = []
    for i in range(100):
        pid = fit("H%03d-" % i, 64, "p")
        run.call("PUT", "/api/v1/properties/" + pid, {"name": "history %d" % i}, phase="history", expect=(200, 201))
        prop_ids.append(pid)
    body = max_contact_body(prop_ids, 0)
    raw = json.dumps(body).encode()
    r = run.call("POST", "/api/v3/contacts", raw, phase="history", expect=(201,))
    contact = r.json()
    cid = contact["id"]
    counts = {k: len(contact.get(k) or []) for k in ("emailAddresses", "telephones", "addresses", "customFields",
                                                    "propertyIds", "orderReferences")}
    log("  contact %s created: body %d bytes, stored %d bytes, %s" % (cid, len(raw), len(r.body), counts))
    write_max = r.elapsed
    for n in range(1, n_revisions):
        full = n % 10 == 0
        r = run.call("PUT", "/api/v3/contacts/%s" % cid, max_contact_body(prop_ids, n, full), phase="history",
                     expect=(200,))
        write_max = max(write_max, r.elapsed)
    r = run.call("GET", "/api/v3/contacts/%s" % cid, phase="history", expect=(200,))
    version = r.json()["version"]
    log("  %d writes in %.1f s (slowest %.0f ms); version %s; one revision ~%d bytes"
        % (n_revisions, time.monotonic() - t0, write_max * 1000, version, len(r.body)))
    time.sleep(0.5)
    rss_before = run.service.rss_mb()
    parts_before = run.service.parts_mb()
    hwm_reset = run.service.reset_hwm()
    results = {"pages": 0, "revisions": [], "page_max": 0.0, "bytes": 0, "errors": []}
    lock = threading.Lock()

    def reader(k):
        for p in range(passes):
            seen = 0
            url = "/api/v3/contacts/%s/revisions?limit=50" % cid
            while url:
                resp = run.send("history", "history page", "GET", url, headers=auth_headers("bearer", run.key))
                if resp.error or resp.status != 200:
                    with lock:
                        results["errors"].append("%s %s" % (url, resp.error or resp.status))
                    break
                items = resp.json()
                seen += len(items)
                with lock:
                    results["pages"] += 1
                    results["bytes"] += len(resp.body)
                    results["page_max"] = max(results["page_max"], resp.elapsed)
                link = resp.header("link")
                m = re.search(r'<([^>]+)>\s*;\s*rel="next"', link or "")
                url = m.group(1) if m else None
            with lock:
                results["revisions"].append(seen)
            resp = run.send("history", "includeRevisions", "GET", "/api/v3/contacts/%s?includeRevisions=true" % cid,
                            headers=auth_headers("bearer", run.key))
            if resp.status != 200:
                with lock:
                    results["errors"].append("includeRevisions %s" % (resp.error or resp.status))

    started = time.monotonic()
    with RssSampler(run.service) as sampler:
        threads = [threading.Thread(target=reader, args=(k,)) for k in range(n_readers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    reads_s = time.monotonic() - started
    hwm = run.service.hwm_mb() if hwm_reset else None
    time.sleep(1.0)
    rss_after = run.service.rss_mb()
    parts_after = run.service.parts_mb()
    rss_max = max(sampler.max, hwm or 0.0)
    complete = all(n == version for n in results["revisions"])
    log("  %d pages (%.0f MB) in %.1f s, slowest page %.0f ms; revisions seen per pass: %s%s"
        % (results["pages"], results["bytes"] / 1e6, reads_s, results["page_max"] * 1000,
           sorted(set(results["revisions"])), "" if complete else " (expected %s each)" % version))
    for e in results["errors"][:10]:
        log("  history read failed: %s" % e)
    log("  RSS before %.1f MB (anon %s, file %s), max during %.1f MB (sampled %.1f%s; anon max %.1f), after %.1f MB"
        " (anon %s, file %s)" % (rss_before or 0, fmt(parts_before[0]), fmt(parts_before[1]), rss_max, sampler.max,
                                 ", VmHWM %.1f" % hwm if hwm else "", sampler.max_anon, rss_after or 0,
                                 fmt(parts_after[0]), fmt(parts_after[1])))
    return {"revisions": version, "readers": n_readers, "passes": passes, "pages": results["pages"],
            "page_max": results["page_max"], "rss_before": rss_before, "rss_max": rss_max, "rss_after": rss_after,
            "complete": complete and not results["errors"], "revision_bytes": len(r.body), "write_max": write_max,
            "mb": results["bytes"] / 1e6, "anon_before": parts_before[0], "anon_max": sampler.max_anon,
            "anon_after": parts_after[0], "file_before": parts_before[1]}


# --------------------------------------------------------------------------------------------------


def summarise_5xx(errors):
    """One line per route and probe category: the statuses, the members or parameters hit, and the
    variants that did it (`str:/title+nul` is category str, member /title, variant +nul)."""
    groups = {}
    for phase, label, method, target, status, excerpt in errors:
        route, _, kind = label.partition(" ")
        m = re.match(r"^([\w-]+):(.*?)([+=].*)?$", kind)
        cat, member, variant = (m.group(1), m.group(2), m.group(3) or "") if m else (kind, "", "")
        g = groups.setdefault((route, cat), {"n": 0, "status": Counter(), "members": [], "variants": []})
        g["n"] += 1
        g["status"][status] += 1
        for key, v in (("members", member), ("variants", variant)):
            if v and v not in g[key]:
                g[key].append(v)
    # Routes that failed the same way share a line.
    merged = {}
    for (route, cat), g in groups.items():
        key = (cat, tuple(sorted(g["members"])), tuple(sorted(g["variants"])), tuple(sorted(g["status"])))
        m = merged.setdefault(key, {"routes": [], "n": 0, "members": g["members"], "variants": sorted(g["variants"])})
        m["routes"].append(route)
        m["n"] += g["n"]
    lines = []
    for (cat, _, _, statuses), m in sorted(merged.items(), key=lambda kv: -kv[1]["n"]):
        lines.append("%4d x %s on %s -- %s: %s%s" % (
            m["n"], "/".join("%d" % c for c in statuses), ", ".join(sorted(m["routes"])), cat,
            " ".join(m["members"]) or "-", "  [%s]" % " ".join(m["variants"]) if m["variants"] else ""))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--addr", required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--scale", choices=sorted(SCALES), default="short")
    ap.add_argument("--store", default="sqlite")
    ap.add_argument("--header-timeout", type=float, default=3.0, help="the service's HTTP_HEADER_READ_TIMEOUT_SECS")
    ap.add_argument("--idle-timeout", type=float, default=60.0, help="the service's HTTP_IDLE_TIMEOUT_SECS")
    ap.add_argument("--request-timeout", type=float, default=30.0, help="the service's REQUEST_TIMEOUT_SECS")
    ap.add_argument("--phases", default="battery,sockets,history")
    ap.add_argument("--started", type=float, default=None, help="epoch seconds the run began (for the total)")
    args = ap.parse_args()

    scale = dict(SCALES[args.scale])
    for k in list(scale):
        env = os.environ.get("ABUSE_" + k.upper())
        if env:
            scale[k] = env.lower() in ("1", "true", "yes") if k == "wide" else int(env)
    host, port = args.addr.rsplit(":", 1)
    addr = (host, int(port))
    with open(args.key_file) as f:
        key = f.read().strip()
    service = Service(args.pid)
    run = Run(addr, key, service)
    started = args.started or time.time()
    phases = args.phases.split(",")
    rss_start = service.rss_mb()
    log("abuse run: scale %s (%s), store %s, service pid %s at %s, RSS %.1f MB"
        % (args.scale, ", ".join("%s=%s" % kv for kv in scale.items()), args.store, args.pid, args.addr, rss_start or 0))

    fixtures = Fixtures(run)
    sockets = history = None
    setup_failed = None
    battery_rss = 0.0
    try:
        fixtures.seed()
        if "battery" in phases:
            with RssSampler(service, every=0.2) as s:
                battery(run, fixtures, scale["wide"], scale["workers"], args.request_timeout, s, scale["random"])
            battery_rss = s.max
        if "sockets" in phases and not run.crashed and service.alive():
            sockets = sockets_phase(run, fixtures, scale["idle"], scale["slow"], args.header_timeout,
                                    args.idle_timeout)
        if "history" in phases and not run.crashed and service.alive():
            history = history_phase(run, scale["revisions"], scale["readers"], scale["passes"])
    except SetupError as e:
        setup_failed = str(e)
        log("SETUP FAILED: %s" % e)
    except (OSError, ValueError, KeyError) as e:
        setup_failed = "%s: %s" % (e.__class__.__name__, e)
        log("RUN FAILED: %s" % setup_failed)

    alive = service.alive()
    final = run.send("final", "final livez", "GET", "/livez") if alive else None
    answers = final is not None and final.status == 200
    rss_end = service.rss_mb()

    # ---- figures
    failures = []
    if run.server_errors:
        failures.append("%d answers were 5xx" % len(run.server_errors))
    if run.unanswered:
        failures.append("%d requests got no answer" % len(run.unanswered))
    if not alive or run.crashed:
        failures.append("the service process is gone (crash)")
    elif not answers:
        failures.append("/livez does not answer at the end")
    if setup_failed:
        failures.append("setup failed: " + setup_failed)
    if sockets:
        if sockets["livez_max"] > LIVEZ_LIMIT_S or not sockets["livez_ok"]:
            failures.append("/livez under socket pressure took %.0f ms (or failed)" % (sockets["livez_max"] * 1000))
        if sockets["api_max"] > LIVEZ_LIMIT_S or not sockets["api_ok"]:
            failures.append("an API call under socket pressure took %.0f ms (or failed)" % (sockets["api_max"] * 1000))
        if sockets["slow_closed"] < sockets["slow_total"]:
            failures.append("%d slow-header sockets still open after %.0f s (header timeout %g s)"
                            % (sockets["slow_total"] - sockets["slow_closed"], sockets["wait"], args.header_timeout))
    if history:
        if RSS_LIMIT_MB > 0 and history["rss_max"] > RSS_LIMIT_MB:
            failures.append("RSS %.1f MB during the history reads (limit %.0f MB)" % (history["rss_max"], RSS_LIMIT_MB))
        if not history["complete"]:
            failures.append("the history reads did not see every revision")

    rows = []
    total = sum(run.tried.values())
    rows.append(("requests tried", "%d (%s)" % (total, ", ".join("%s %d" % kv for kv in sorted(run.tried.items())))))
    rows.append(("answers by class", ", ".join("%s %d" % kv for kv in sorted(run.statuses.items()))))
    rows.append(("5xx answers", str(len(run.server_errors))))
    rows.append(("unanswered (timeout)", str(len(run.unanswered))))
    rows.append(("closed without answer", "%d (raw HTTP junk, oversized; tolerated)" % sum(
        v for k, v in run.transport.items() if k != "unexpected")))
    if "battery" in run.max_latency:
        rows.append(("battery max latency", "%.0f ms (%s)" % (run.max_latency["battery"] * 1000,
                                                               short(run.max_latency_label.get("battery", ""), 90))))
        rows.append(("RSS max during battery", "%.1f MB" % battery_rss))
        rows.append(("largest answer", "%.1f MB to a %.0f kB request (%s)" % (
            run.largest[0] / 1e6, run.largest[1] / 1e3, run.largest[2])))
    if "raw" in run.max_latency:
        rows.append(("raw HTTP max latency", "%.0f ms (%s; a request without its blank line waits for the "
                     "header timeout)" % (run.max_latency["raw"] * 1000, run.max_latency_label.get("raw", "").split(" RAW")[0])))
    if "stalled" in run.max_latency:
        rows.append(("declared-too-large bodies", "%d sent, answered after %.1f s at most (413 is due at once)"
                     % (run.tried["stalled"], run.max_latency["stalled"])))
    if sockets:
        rows.append(("/livez under sockets", "%.0f ms max (%s sockets open)" % (sockets["livez_max"] * 1000, " + ".join(
            "%d %s" % (g[1], n) for n, g in sockets["groups"].items()))))
        rows.append(("API call under sockets", "%.0f ms max" % (sockets["api_max"] * 1000)))
        for name, (closed, total, lo, hi) in sockets["groups"].items():
            rows.append(("%s sockets closed" % name, "%d/%d after %s-%s s (header timeout %g s, idle timeout %g s)"
                         % (closed, total, fmt(lo), fmt(hi), args.header_timeout, args.idle_timeout)))
    if history:
        rows.append(("history", "%d revisions of ~%d kB, %d readers x %d passes, %d pages (%.0f MB), slowest page %.0f ms"
                     % (history["revisions"], history["revision_bytes"] / 1000, history["readers"], history["passes"],
                        history["pages"], history["mb"], history["page_max"] * 1000)))
        rows.append(("RSS at start", "%.1f MB" % (rss_start or 0)))
        rows.append(("RSS before history reads", "%.1f MB (anon %s, file %s)" % (
            history["rss_before"] or 0, fmt(history["anon_before"]), fmt(history["file_before"]))))
        rows.append(("RSS max during reads", "%.1f MB (anon max %.1f; limit %.0f MB on RSS)" % (
            history["rss_max"], history["anon_max"], RSS_LIMIT_MB)))
        rows.append(("RSS after reads", "%.1f MB (anon %s)" % (history["rss_after"] or 0, fmt(history["anon_after"]))))
    rows.append(("RSS at end", "%.1f MB" % (rss_end or 0) if rss_end else "-"))
    rows.append(("total run time", "%.0f s" % (time.time() - started)))
    rows.append(("verdict", "PASS" if not failures else "FAIL"))
    log("")
    log("== abuse run figures: scale %s, store %s ==" % (args.scale, args.store))
    for k, v in rows:
        log("  %-26s %s" % (k, v))
    if run.closes:
        log("")
        log("closed without an answer (%d, tolerated): %s" % (len(run.closes), "; ".join(run.closes[:30])))
    if run.server_errors:
        log("")
        log("5xx by route (each one is listed above, as it happened, with method, path and body):")
        for line in summarise_5xx(run.server_errors):
            log("  " + line)
    if run.unanswered:
        log("")
        log("unanswered (%d):" % len(run.unanswered))
        for phase, label, method, target, err in run.unanswered[:50]:
            log("  %s %s [%s] %s" % (method, short(target, 120), label, err))
    for f in failures:
        log("FAIL: " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
