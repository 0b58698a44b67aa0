//! Log lines on standard error; under systemd (`$JOURNAL_STREAM` set) each
//! line starts with its syslog priority (`<3>` error … `<7>` debug), which
//! journald turns into the entry's level, and carries no timestamp or
//! colour of its own. Fields name the account, message or outgoing mail a
//! line is about; secrets are never put in a field or a message.

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{DefaultFields, Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The journal's priority for a level (syslog numbering).
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

struct Journal<F>(F);

impl<S, N, F> FormatEvent<S, N> for Journal<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Libraries whose debug and trace output carries what is on the wire:
/// the IMAP login (a password, in clear or base64), tokens, whole customer
/// messages. Capped at `warn` whatever `BILLMAIL_LOG` asks.
const WIRE_TRACERS: &[&str] = &["async_imap", "imap_proto", "lettre", "hickory_proto", "hickory_resolver", "rustls"];

/// Sets up logging: `BILLMAIL_LOG` (an env-filter) or, by default, `info`
/// for the daemon and `warn` for one-shot commands.
pub fn init(daemon: bool) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("BILLMAIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if daemon { "info" } else { "warn" }));
    for target in WIRE_TRACERS {
        filter = filter.add_directive(format!("{target}=warn").parse().expect("a valid directive"));
    }
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        let plain: Format<Full, ()> = Format::default().without_time().with_ansi(false);
        builder.with_ansi(false).event_format(Journal(plain)).fmt_fields(DefaultFields::new()).init();
    } else {
        // colours for a person at a terminal, not escape codes in a file or a pipe
        use std::io::IsTerminal;
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}
