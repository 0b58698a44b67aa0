//! PDF documents (invoices, statements) made with Typst as a library: one
//! `.typ` template per document in `templates/`, given its data as JSON
//! through `sys.inputs.data`, with fonts embedded from `typst-assets` so
//! nothing depends on the host's fonts. The output is PDF/A-2b and tagged,
//! with the document's number as its title; the same data gives the same
//! bytes (the date and identifier are fixed from the document, not the clock).

use anyhow::{Result, anyhow};
use chrono::{Datelike, NaiveDate};
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

fn describe(e: &typst_as_lib::TypstAsLibError) -> String {
    match e {
        typst_as_lib::TypstAsLibError::TypstSource(diags) => {
            diags.iter().map(|d| d.message.to_string()).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}
