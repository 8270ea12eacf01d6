//! Renderings of a [`Timeline`](crate::timeline::Timeline): JSON (docs/timeline-json.md),
//! Markdown (the post-mortem's table) and HTML (the daemon's page). All deterministic.

pub mod html;
pub mod json;
pub mod markdown;
pub mod rows;

/// The output formats `draft --format` and the HTTP API offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Markdown,
    Html,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "json" => Ok(Format::Json),
            "md" | "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            other => Err(format!("unknown format {other:?}: expected md, json or html")),
        }
    }
}

/// The timeline in `format`.
pub fn render(timeline: &crate::timeline::Timeline, format: Format) -> String {
    match format {
        Format::Json => json::render(timeline),
        Format::Markdown => markdown::render(timeline),
        Format::Html => html::render(timeline),
    }
}
