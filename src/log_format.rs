//! The JSON line format of every log line, and the subscriber that writes it.
//!
//! One object per line: `timestamp`, `level`, `target`, the event's fields (`message` first), the
//! `request_id` of the request being served, and `spans` (name and fields of each span in scope,
//! outermost first) when there are any.
//!
//! The request id comes from the request's task-local context ([`crate::request_context`]), not
//! from a span: a span per request cost a tenth of the service's CPU on a contact-set GET (creation,
//! enter and exit at every poll, and tracing-subscriber's JSON formatter re-parsing span fields for
//! every line). Writing the fields straight into the line buffer, escaped as they come, keeps a
//! line to one pass with no intermediate JSON values.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::request_context;

/// A subscriber writing [`JsonLines`] to `writer`, filtered by `filter`.
pub fn subscriber<W>(writer: W, filter: EnvFilter) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .event_format(JsonLines)
        .fmt_fields(JsonFields)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

/// Formats an event as one JSON object on one line.
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        w.write_str(r#"{"timestamp":"#)?;
        write_timestamp(&mut w)?;
        write!(w, r#","level":"{}","target":"#, meta.level())?;
        write_str(&mut w, meta.target())?;
        let mut fields = FieldWriter { w: &mut w, result: Ok(()) };
        event.record(&mut fields);
        fields.result?;
        request_context::with_current(|ctx| -> fmt::Result {
            w.write_str(r#","request_id":"#)?;
            write_str(&mut w, &ctx.request_id)
        })
        .unwrap_or(Ok(()))?;
        if let Some(scope) = ctx.event_scope() {
            let mut first = true;
            for span in scope.from_root() {
                w.write_str(if first { r#","spans":[{"name":"# } else { r#",{"name":"# })?;
                first = false;
                write_str(&mut w, span.name())?;
                if let Some(f) = span.extensions().get::<FormattedFields<N>>() {
                    // Our `JsonFields` stored them as `,"name":value` pairs.
                    w.write_str(f)?;
                }
                w.write_char('}')?;
            }
            if !first {
                w.write_char(']')?;
            }
        }
        w.write_str("}\n")
    }
}

/// Formats span fields as `,"name":value` pairs, ready to be spliced into a line's `spans` entry.
pub struct JsonFields;

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut w: Writer<'w>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = FieldWriter { w: &mut w, result: Ok(()) };
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        // The default separates with a space; ours already start with a comma.
        self.format_fields(current.as_writer(), fields)
    }
}

/// Writes each field as `,"name":value`, numbers and booleans as JSON scalars, everything else as
/// an escaped string.
struct FieldWriter<'a, 'w> {
    w: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl FieldWriter<'_, '_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        self.w.write_char(',')?;
        write_str(self.w, field.name().trim_start_matches("r#"))?;
        self.w.write_char(':')
    }

    fn put(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| value(self.w));
        }
    }
}

impl Visit for FieldWriter<'_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.put(field, |w| write!(w, "{value}"));
        } else {
            self.put(field, |w| write!(w, "\"{value}\""));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |w| write!(w, "{value}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |w| write!(w, "{value}"));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |w| write!(w, "{value}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, |w| write_str(w, value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, |w| write_display(w, value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%x` fields arrive here too, their Debug being the value's Display.
        self.put(field, |w| {
            w.write_char('"')?;
            write!(Escaping(w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// Now, RFC 3339 in UTC with microseconds. The date and time of day are formatted once per second
/// per thread; only the microseconds change between the lines of one second.
fn write_timestamp(w: &mut Writer<'_>) -> fmt::Result {
    thread_local! {
        static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let now = chrono::Utc::now();
    // A leap second's sub-second part runs past 999_999.
    let micros = now.timestamp_subsec_micros().min(999_999);
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != now.timestamp() {
            *second = now.timestamp();
            text.clear();
            write!(text, "{}", now.format("%Y-%m-%dT%H:%M:%S"))?;
        }
        write!(w, "\"{text}.{micros:06}Z\"")
    })
}

fn write_display(w: &mut Writer<'_>, value: &dyn fmt::Display) -> fmt::Result {
    w.write_char('"')?;
    write!(Escaping(w), "{value}")?;
    w.write_char('"')
}

/// `s` as a JSON string literal.
fn write_str(w: &mut Writer<'_>, s: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaping(w).write_str(s)?;
    w.write_char('"')
}

/// Escapes what passes through it for the inside of a JSON string.
struct Escaping<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for Escaping<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut plain = 0;
        for (i, b) in s.bytes().enumerate() {
            let escaped = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&s[plain..i])?;
            if escaped.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escaped)?;
            }
            plain = i + 1;
        }
        self.0.write_str(&s[plain..])
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use serde_json::Value;

    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines_of(f: impl FnOnce()) -> Vec<Value> {
        let sink = Sink::default();
        let out = sink.clone();
        let sub = subscriber(move || out.clone(), EnvFilter::new("trace"));
        tracing::subscriber::with_default(sub, f);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }

    #[test]
    fn every_field_kind_becomes_valid_json() {
        let lines = lines_of(|| {
            let err = std::io::Error::other("disk \"full\"");
            tracing::warn!(
                target: "t",
                n = -3i64,
                u = 7u64,
                f = 1.5f64,
                nan = f64::NAN,
                ok = true,
                s = "tab\there \"quoted\" \\ \u{1}",
                d = ?vec!["a"],
                shown = %"x\ny",
                error = &err as &(dyn std::error::Error + 'static),
                "hello {}", "world"
            );
        });
        let l = &lines[0];
        assert_eq!(l["level"], "WARN");
        assert_eq!(l["target"], "t");
        assert_eq!(l["message"], "hello world");
        assert_eq!((l["n"].as_i64(), l["u"].as_u64(), l["f"].as_f64()), (Some(-3), Some(7), Some(1.5)));
        assert_eq!((&l["nan"], &l["ok"]), (&Value::from("NaN"), &Value::from(true)));
        assert_eq!(l["s"], "tab\there \"quoted\" \\ \u{1}");
        assert_eq!(l["d"], "[\"a\"]");
        assert_eq!(l["shown"], "x\ny");
        assert_eq!(l["error"], "disk \"full\"");
        let at = chrono::DateTime::parse_from_rfc3339(l["timestamp"].as_str().unwrap()).unwrap();
        assert!((chrono::Utc::now() - at.to_utc()).num_seconds().abs() < 60, "{at}");
        assert!(l.get("spans").is_none() && l.get("request_id").is_none());
    }

    #[test]
    fn spans_in_scope_are_listed_outermost_first_with_their_fields() {
        let lines = lines_of(|| {
            let outer = tracing::info_span!("outer", a = 1, b = tracing::field::Empty);
            let _o = outer.enter();
            outer.record("b", "late");
            let inner = tracing::info_span!("inner", c = "x\"y");
            let _i = inner.enter();
            tracing::info!("inside");
        });
        let spans = &lines[0]["spans"];
        assert_eq!(spans[0], serde_json::json!({"name": "outer", "a": 1, "b": "late"}));
        assert_eq!(spans[1], serde_json::json!({"name": "inner", "c": "x\"y"}));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn lines_inside_a_request_carry_its_id() {
        let sink = Sink::default();
        let out = sink.clone();
        let _guard =
            tracing::subscriber::set_default(subscriber(move || out.clone(), EnvFilter::new("info")));
        let ctx = request_context::RequestContext {
            request_id: "req-\"7\"".into(),
            path: "/x".into(),
            ..Default::default()
        };
        request_context::run_in(ctx, async { tracing::info!("in request") }).await;
        tracing::info!("outside");
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["request_id"], "req-\"7\"");
        assert!(lines[1].get("request_id").is_none());
    }
}
