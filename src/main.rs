use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // the daemon says what it does; one-shot commands only warn
    billmail::logging::init(std::env::args().any(|a| a == "run"));
    let cli = billmail::cli::Cli::parse();
    let ingest = matches!(cli.command, billmail::cli::Command::Ingest { .. });
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
