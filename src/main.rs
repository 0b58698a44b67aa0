use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = billmail::cli::Cli::parse();
    use billmail::cli::Command;
    let daemon = matches!(cli.command, Command::Run { .. });
    if daemon {
        // no transparent huge pages for the daemon, on a host that gives
        // them without asking either: a 2 MiB page for a few KiB of heap
        // is most of an idle daemon's memory (mimalloc asks for none)
        // SAFETY: prctl with an integer flag; no memory is touched.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
    // the daemon and its cycles say what they do; one-shot commands only warn
    billmail::logging::init(daemon || matches!(cli.command, Command::CycleWorker));
    // the process's default for the crates that build their own TLS
    // settings (lettre, reqwest): billmail's one provider
    let _ = tokio_rustls::rustls::crypto::CryptoProvider::install_default(std::sync::Arc::unwrap_or_clone(
        billmail::tls_provider(),
    ));
    if !matches!(
        cli.command,
        Command::Run { .. }
            | Command::Tick { .. }
            | Command::CycleWorker
            | Command::CheckConfig { .. }
            | Command::Outbox(_)
    ) {
        // a command that only prints ends quietly when its reader goes
        // (`billmail parse f | head -1`), as any Unix tool does. Not for the
        // ones that talk to mail servers: there a closed socket must be an
        // error to handle, not a signal that kills mid-send.
        // SAFETY: setting a signal's disposition to its default, before any
        // thread of ours exists, has no preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    if !matches!(cli.command, Command::PdfWorker) {
        // PDFs are made in a child, from this very binary (see pdf.rs)
        billmail::pdf::make_in_child(billmail::own_program());
    }
    let ingest = matches!(cli.command, Command::Ingest { .. });
    match billmail::cli::run(cli).await {
        Ok(outcome) => std::process::exit(outcome.code),
        Err(e) => {
            // one clear line; the chain is joined with ": "
            eprintln!("billmail: {e:#}");
            // a busy database or a full disk: the MTA keeps the message and retries
            let code = if ingest && billmail::cli::is_temporary(&e) { billmail::cli::EX_TEMPFAIL } else { 1 };
            std::process::exit(code);
        }
    }
}
