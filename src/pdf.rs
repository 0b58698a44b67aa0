//! PDF documents (invoices, statements) made with Typst as a library: one
//! `.typ` template per document in `templates/`, given its data as JSON
//! through `sys.inputs.data`, with fonts embedded from `typst-assets` so
//! nothing depends on the host's fonts. The output is PDF/A-2b and tagged,
//! with the document's number as its title; the same data gives the same
//! bytes (the date and identifier are fixed from the document, not the clock).
//!
//! The billmail binary makes its PDFs in a child process of its own
//! (`billmail pdf-worker`, started for a round of PDFs and ended after it):
//! Typst's fonts, standard library and the allocator's pages for them cost a
//! fixed ~58 MiB that freeing caches does not give back (measured with
//! `cargo bench --bench pdf`), and a daemon idling between sends must stay
//! small. A child also keeps a template that crashes Typst from taking the
//! daemon with it. A library user (tests, benches) makes them in its own
//! process unless it calls [`make_in_child`].

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use typst::foundations::{Dict, IntoValue, Smart};
use typst_as_lib::TypstEngine;
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

/// The built-in invoice template.
pub const INVOICE_TEMPLATE: &str = include_str!("../templates/invoice.typ");
/// The built-in statement template.
pub const STATEMENT_TEMPLATE: &str = include_str!("../templates/statement.typ");

/// An image the templates may show as `logo` (the company's, from `[company] logo`).
#[derive(Clone, Debug)]
pub struct Logo {
    /// The file name Typst resolves it by (its extension tells the format).
    pub name: String,
    pub bytes: Vec<u8>,
}

/// One compiled template, ready to render many documents.
pub struct PdfTemplate {
    engine: TypstEngine<typst_as_lib::TypstTemplateMainFile>,
}

impl std::fmt::Debug for PdfTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PdfTemplate")
    }
}

impl PdfTemplate {
    pub fn new(source: &str, logo: Option<&Logo>) -> PdfTemplate {
        let fonts: Vec<&'static [u8]> = typst_assets::fonts().collect();
        let files: Vec<(&str, Vec<u8>)> = logo.iter().map(|l| (l.name.as_str(), l.bytes.clone())).collect();
        let engine = TypstEngine::builder()
            .main_file(source.to_string())
            .fonts(fonts)
            .with_static_file_resolver(files)
            // Typst's memo caches are freed after every document: a daemon
            // that sent 1,000 invoices keeps no layout of them
            .comemo_evict_max_age(Some(0))
            .build();
        PdfTemplate { engine }
    }

    /// Renders one document. `data` is what the template reads as
    /// `json(bytes(sys.inputs.data))`; `title` is the PDF's title and
    /// identifier (the document's number), `date` its creation date.
    pub fn render(&self, data: &serde_json::Value, title: &str, date: NaiveDate) -> Result<Vec<u8>> {
        let mut inputs = Dict::new();
        inputs.insert("data".into(), serde_json::to_string(data)?.into_value());
        let warned = self.engine.compile_with_input::<_, PagedDocument>(inputs);
        let mut doc = warned.output.map_err(|e| anyhow!("the PDF template: {}", describe(&e)))?;
        doc.info_mut().title = Some(title.into());
        let timestamp = typst::foundations::Datetime::from_ymd(date.year(), date.month() as u8, date.day() as u8)
            .map(Timestamp::new_utc);
        let options = PdfOptions {
            ident: Smart::Custom(title.to_string()),
            timestamp,
            standards: PdfStandards::new(&[PdfStandard::A_2b]).map_err(|e| anyhow!("PDF/A: {}", e.message()))?,
            ..PdfOptions::default()
        };
        let pdf = typst_pdf::pdf(&doc, &options).map_err(|e| {
            anyhow!("the PDF: {}", e.iter().map(|d| d.message.to_string()).collect::<Vec<_>>().join("; "))
        });
        // what the export memoised (fonts subset, images) is not kept either:
        // a daemon between sends holds no document's layout or fonts
        comemo::evict(0);
        pdf
    }
}

/// The documents billmail makes as PDFs, one template each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Doc {
    Invoice,
    Statement,
}

/// The program PDFs are made by, when not in this process.
static CHILD: OnceLock<PathBuf> = OnceLock::new();

/// From now on this process makes its PDFs in a child: `program
/// pdf-worker`. The billmail binary calls it with `/proc/self/exe`, the very
/// file it runs from (an upgrade that replaces `/usr/bin/billmail` under a
/// running daemon does not give it a worker of another version).
pub fn make_in_child(program: PathBuf) {
    let _ = CHILD.set(program);
}

/// Makes the PDFs of one renderer: the templates (built-in or the
/// configured ones) and the logo, compiled on first use, in this process or
/// in a child that lives until [`PdfMaker::finish`].
pub struct PdfMaker {
    invoice: String,
    statement: String,
    logo: Option<Logo>,
    compiled: [OnceLock<PdfTemplate>; 2],
    /// The worker program for this maker alone (else the process's, if set).
    program: Option<PathBuf>,
    child: Mutex<Option<Worker>>,
}

impl Default for PdfMaker {
    fn default() -> Self {
        PdfMaker::new(INVOICE_TEMPLATE.into(), STATEMENT_TEMPLATE.into(), None)
    }
}

impl Clone for PdfMaker {
    fn clone(&self) -> Self {
        PdfMaker {
            program: self.program.clone(),
            ..PdfMaker::new(self.invoice.clone(), self.statement.clone(), self.logo.clone())
        }
    }
}

impl PdfMaker {
    pub fn new(invoice: String, statement: String, logo: Option<Logo>) -> PdfMaker {
        PdfMaker { invoice, statement, logo, compiled: Default::default(), program: None, child: Mutex::new(None) }
    }

    /// This maker makes its PDFs in `program pdf-worker`, whatever the process does.
    pub fn in_child(self, program: PathBuf) -> PdfMaker {
        PdfMaker { program: Some(program), ..self }
    }

    pub fn logo(&self) -> Option<&Logo> {
        self.logo.as_ref()
    }

    /// The Typst source `doc` is made from.
    pub fn source(&self, doc: Doc) -> &str {
        match doc {
            Doc::Invoice => &self.invoice,
            Doc::Statement => &self.statement,
        }
    }

    /// The document `doc` made from `data` (see [`PdfTemplate::render`]).
    pub fn make(&self, doc: Doc, data: &serde_json::Value, title: &str, date: NaiveDate) -> Result<Vec<u8>> {
        let Some(program) = self.program.as_ref().or(CHILD.get()) else {
            let template = self.compiled[doc as usize].get_or_init(|| PdfTemplate::new(self.source(doc), self.logo()));
            return template.render(data, title, date);
        };
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if child.is_none() {
            *child = Some(Worker::start(program, self).context("the PDF worker")?);
        }
        let worker = child.as_mut().expect("started above");
        let made = worker.make(&Job { doc, data: data.clone(), title: title.into(), date });
        if let Err(Failure::Broken(e)) = &made {
            // the child is gone or talks nonsense: the next PDF starts a new one
            let why = e.to_string();
            *child = None;
            bail!("the PDF worker: {why}");
        }
        made.map_err(|f| match f {
            Failure::Template(e) | Failure::Broken(e) => e,
        })
    }

    /// Ends the child, if one runs: what it held goes back to the system.
    /// The next PDF starts a new one.
    pub fn finish(&self) {
        self.child.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// One PDF asked of a worker.
#[derive(Serialize, Deserialize)]
struct Job {
    doc: Doc,
    data: serde_json::Value,
    title: String,
    date: NaiveDate,
}

/// What a worker is told first: the templates and the logo's name (its
/// bytes follow in a frame of their own).
#[derive(Serialize, Deserialize)]
struct Setup {
    invoice: String,
    statement: String,
    logo: Option<String>,
}

enum Failure {
    /// The template failed on this document; the worker goes on.
    Template(anyhow::Error),
    /// The pipe to the worker broke.
    Broken(anyhow::Error),
}

/// A frame on the pipe: its length (4 bytes, big-endian), then its bytes.
fn write_frame(w: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| std::io::Error::other("a frame over 4 GiB"))?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(bytes)?;
    w.flush()
}

/// The next frame, or None at the end of the stream.
fn read_frame(r: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut bytes = vec![0; u32::from_be_bytes(len) as usize];
    r.read_exact(&mut bytes)?;
    Ok(Some(bytes))
}

/// A running `billmail pdf-worker`; ended (its input closed, then waited
/// for) when dropped.
struct Worker {
    child: Child,
    input: Option<ChildStdin>,
    output: ChildStdout,
}

impl Worker {
    fn start(program: &PathBuf, maker: &PdfMaker) -> Result<Worker> {
        let mut command = Command::new(program);
        #[cfg(unix)]
        std::os::unix::process::CommandExt::arg0(&mut command, "billmail");
        let mut child = command
            .arg("pdf-worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {} pdf-worker", program.display()))?;
        let mut input = child.stdin.take().expect("piped");
        let output = child.stdout.take().expect("piped");
        let setup = Setup {
            invoice: maker.invoice.clone(),
            statement: maker.statement.clone(),
            logo: maker.logo.as_ref().map(|l| l.name.clone()),
        };
        let told = write_frame(&mut input, &serde_json::to_vec(&setup)?)
            .and_then(|()| maker.logo.as_ref().map_or(Ok(()), |l| write_frame(&mut input, &l.bytes)));
        let worker = Worker { child, input: Some(input), output };
        told.context("it did not take its templates")?;
        Ok(worker)
    }

    fn make(&mut self, job: &Job) -> Result<Vec<u8>, Failure> {
        let broken = |e: std::io::Error| Failure::Broken(e.into());
        let input = self.input.as_mut().expect("open until dropped");
        let request = serde_json::to_vec(job).map_err(|e| Failure::Template(e.into()))?;
        write_frame(input, &request).map_err(broken)?;
        let answer = read_frame(&mut self.output).map_err(broken)?;
        match answer.as_deref() {
            Some([b'P', pdf @ ..]) => Ok(pdf.to_vec()),
            Some([b'E', why @ ..]) => Err(Failure::Template(anyhow!("{}", String::from_utf8_lossy(why)))),
            Some(_) => Err(Failure::Broken(anyhow!("an answer it does not give"))),
            None => Err(Failure::Broken(anyhow!(
                "it stopped ({})",
                self.child.try_wait().ok().flatten().map_or("still running".into(), |s| s.to_string())
            ))),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // its input closed, the worker finishes and exits
        drop(self.input.take());
        let _ = self.child.wait();
    }
}

/// `billmail pdf-worker`: makes PDFs for its parent until its input ends.
/// Reads the setup frame (and the logo's frame), then one job a frame,
/// answering each with `P` and the PDF or `E` and why not.
pub fn serve(input: &mut impl Read, output: &mut impl Write) -> Result<()> {
    let setup = read_frame(input)?.context("no templates given")?;
    let setup: Setup = serde_json::from_slice(&setup).context("the templates frame")?;
    let logo = match setup.logo {
        Some(name) => Some(Logo { name, bytes: read_frame(input)?.context("no logo given")? }),
        None => None,
    };
    // made here and never in a child of its own
    let maker = PdfMaker::new(setup.invoice, setup.statement, logo);
    while let Some(frame) = read_frame(input)? {
        let job: Job = serde_json::from_slice(&frame).context("a job frame")?;
        let template =
            maker.compiled[job.doc as usize].get_or_init(|| PdfTemplate::new(maker.source(job.doc), maker.logo()));
        let answer = match template.render(&job.data, &job.title, job.date) {
            Ok(pdf) => [b"P".as_slice(), &pdf].concat(),
            Err(e) => format!("E{e:#}").into_bytes(),
        };
        write_frame(output, &answer)?;
    }
    Ok(())
}

fn describe(e: &typst_as_lib::TypstAsLibError) -> String {
    match e {
        typst_as_lib::TypstAsLibError::TypstSource(diags) => {
            diags.iter().map(|d| d.message.to_string()).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}
