//! The tier ladder: each modality tries its rungs from the best model down to a rule-based fallback.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, LoadError, Result};
use crate::registry::{Architecture, LoadTimes, Modality, ModelEntry, ModelError, ModelManifest, ModelStatus, Runtime};

/// A rung of a modality's ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// The main learned model (a transformer or deep network).
    Primary,
    /// A small feature-based model.
    Secondary,
    /// Keyword or rule based scoring that needs no model file to load.
    Fallback,
}

impl Tier {
    /// The tier's JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Primary => "primary",
            Tier::Secondary => "secondary",
            Tier::Fallback => "fallback",
        }
    }
}

type Loader<M> = Box<dyn Fn(&ModelEntry) -> std::result::Result<M, LoadError> + Send + Sync>;

/// A loaded model, or why it could not be loaded, and how long that took.
type Loaded<M> = (std::result::Result<Arc<M>, LoadError>, Option<LoadTimes>);

/// One rung: a model described by its manifest entry, loaded on first use and kept for the life of the process.
pub struct Rung<M> {
    entry: Arc<ModelEntry>,
    loader: Loader<M>,
    loaded: OnceLock<Loaded<M>>,
}

impl<M> Rung<M> {
    /// A rung whose model `loader` builds from its entry on first use, after its files are found present; their
    /// sha256 is checked on a second thread while the loader reads them.
    pub fn new(entry: Arc<ModelEntry>, loader: impl Fn(&ModelEntry) -> std::result::Result<M, LoadError> + Send + Sync + 'static) -> Self {
        Rung { entry, loader: Box::new(loader), loaded: OnceLock::new() }
    }

    /// The model's manifest entry.
    pub fn entry(&self) -> &Arc<ModelEntry> {
        &self.entry
    }

    /// Whether the model has been loaded successfully in this process.
    pub fn is_loaded(&self) -> bool {
        matches!(self.loaded.get(), Some((Ok(_), _)))
    }

    /// The model, loading it on the first call. A failed load is remembered, not retried on every request.
    pub fn get(&self) -> std::result::Result<Arc<M>, LoadError> {
        self.loaded.get_or_init(|| self.load()).0.clone()
    }

    fn load(&self) -> Loaded<M> {
        let started = Instant::now();
        if let Err(e) = self.entry.check_present() {
            return (Err(e), None);
        }
        let entry = &self.entry;
        let (model, checked) = std::thread::scope(|scope| {
            let checksums = scope.spawn(move || {
                let started = Instant::now();
                entry.verify_files().map(|()| started.elapsed())
            });
            let model = (self.loader)(&self.entry);
            (model, checksums.join().unwrap_or_else(|_| Err(LoadError::Unreadable { path: self.entry.id().to_owned(), message: "checksum thread panicked".into() })))
        });
        let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
        match (model, checked) {
            (Ok(model), Ok(checksum)) => (Ok(Arc::new(model)), Some(LoadTimes { load_ms: ms(started.elapsed()), checksum_ms: ms(checksum) })),
            (_, Err(e)) | (Err(e), _) => (Err(e), None),
        }
    }

    /// The model's status as the API lists it.
    pub fn status(&self) -> ModelStatus {
        let entry = &self.entry;
        let (error, load) = match self.loaded.get() {
            Some((Err(e), _)) => (Some(e.clone()), None),
            Some((Ok(_), times)) => (None, *times),
            None => (entry.check_present().err(), None),
        };
        ModelStatus {
            id: entry.id().to_owned(),
            modality: Some(entry.modality),
            tier: Some(entry.tier()),
            role: Some(entry.manifest.role),
            custom: entry.custom,
            loaded: self.is_loaded(),
            available: error.is_none(),
            size_bytes: entry.size_bytes(),
            runs_on: (entry.manifest.runtime == Runtime::Tract).then_some(entry.inference),
            precision: entry.weights_precision(),
            load,
            error: error.as_ref().map(ModelError::from),
            manifest: Some(Arc::clone(&entry.manifest)),
        }
    }
}

/// Which rung answered, and why the rungs above it did not.
#[derive(Debug, Clone)]
pub struct Answered<'a> {
    pub entry: &'a ModelEntry,
    /// One line per skipped rung (`"primary (text-minilm): file not found ..."`).
    pub skipped: Vec<String>,
}

/// A modality's rungs, best first, and the models a request may name instead of descending them.
pub struct Ladder<M> {
    modality: &'static str,
    rungs: Vec<Arc<Rung<M>>>,
    named: Vec<Arc<Rung<M>>>,
}

impl<M> Ladder<M> {
    /// A ladder for `modality` from rungs ordered best first.
    pub fn new(modality: &'static str, rungs: Vec<Rung<M>>) -> Self {
        Ladder { modality, rungs: rungs.into_iter().map(Arc::new).collect(), named: Vec::new() }
    }

    /// Adds a model that answers only when a request names it.
    pub fn add_named(&mut self, rung: Rung<M>) {
        self.named.push(Arc::new(rung));
    }

    /// Adds a model registered in Rust (described by [`ModelManifest::in_process`]) that answers when a request names
    /// its id; `model` hands out the model, loaded already. Refused when the id is taken or the manifest is not an
    /// in-process one.
    pub fn register(&mut self, manifest: ModelManifest, modality: Modality, model: impl Fn() -> M + Send + Sync + 'static) -> std::result::Result<(), LoadError> {
        if self.find(&manifest.id).is_some() || manifest.runtime != Runtime::InProcess || manifest.architecture != Architecture::InProcess {
            return Err(LoadError::BadManifest {
                path: "(registered in code)".into(),
                message: format!("model {}: the id must be free and runtime and architecture in-process", manifest.id),
            });
        }
        let entry = Arc::new(ModelEntry::without_files(manifest, modality));
        self.add_named(Rung::new(entry, move |_| Ok(model())));
        Ok(())
    }

    /// The rungs, best first.
    pub fn rungs(&self) -> &[Arc<Rung<M>>] {
        &self.rungs
    }

    /// The rung or named model with id `id`.
    pub fn find(&self, id: &str) -> Option<&Arc<Rung<M>>> {
        self.all().find(|r| r.entry.id() == id)
    }

    /// Loads the model of the top rung now (for warm-up at start-up, where that time is free).
    pub fn warm_up(&self) -> std::result::Result<(), LoadError> {
        self.rungs.first().map_or(Ok(()), |r| r.get().map(|_| ()))
    }

    /// Ids of the models loaded so far.
    pub fn loaded_models(&self) -> Vec<String> {
        self.all().filter(|r| r.is_loaded()).map(|r| r.entry.id().to_owned()).collect()
    }

    /// Every model's status, the rungs' first.
    pub fn models(&self) -> Vec<ModelStatus> {
        self.all().map(|r| r.status()).collect()
    }

    fn all(&self) -> impl Iterator<Item = &Arc<Rung<M>>> {
        self.rungs.iter().chain(&self.named)
    }

    /// Runs `infer` on the first rung at or below `start` whose model loads and runs; a rung that fails to load or
    /// to run hands over to the next one. Errors about the request (bad input, a passed deadline) are returned at once: a lower tier would fail too.
    pub fn run<T>(&self, start: Option<Tier>, mut infer: impl FnMut(&M) -> Result<T>) -> Result<(T, Answered<'_>)> {
        let mut skipped = Vec::new();
        for rung in self.rungs.iter().filter(|r| start.is_none_or(|t| r.entry.tier() >= t)) {
            let label = format!("{} ({})", rung.entry.tier().as_str(), rung.entry.id());
            let model = match rung.get() {
                Ok(model) => model,
                Err(reason) => {
                    skipped.push(format!("{label}: {reason}"));
                    continue;
                }
            };
            match infer(&model) {
                Ok(value) => return Ok((value, Answered { entry: &rung.entry, skipped })),
                Err(e) if e.is_about_the_request() => return Err(e),
                Err(e) => skipped.push(format!("{label}: {e}")),
            }
        }
        Err(Error::ModelUnavailable { modality: self.modality, reasons: skipped.join("; ") })
    }

    /// Runs `infer` on the model with id `id` (a rung or a named model), with no other model to hand over to.
    pub fn run_model<T>(&self, id: &str, field: &str, infer: impl FnOnce(&M) -> Result<T>) -> Result<(T, Answered<'_>)> {
        let rung = self.named_rung(id, field)?;
        let model = rung.get().map_err(|e| Error::ModelUnavailable { modality: self.modality, reasons: format!("{id}: {e}") })?;
        Ok((infer(&model)?, Answered { entry: &rung.entry, skipped: Vec::new() }))
    }

    /// The rung or named model with id `id`, or an invalid-input error on request field `field` that lists the ids.
    fn named_rung(&self, id: &str, field: &str) -> Result<&Arc<Rung<M>>> {
        self.find(id).ok_or_else(|| {
            let known: Vec<&str> = self.all().map(|r| r.entry.id()).collect();
            Error::invalid(field, format!("no {} model is named {id:?}; there are {}", self.modality, known.join(", ")))
        })
    }

    /// Checks a request's choice of model (field `model`) and tier before any work is done: a model that exists,
    /// and not both.
    pub fn check_request(&self, model: Option<&str>, tier: Option<Tier>) -> Result<()> {
        match (model, tier) {
            (Some(_), Some(_)) => Err(Error::invalid("model", "names one model; a tier cannot be asked for with it")),
            (Some(id), None) => self.named_rung(id, "model").map(|_| ()),
            (None, _) => Ok(()),
        }
    }

    /// Runs `infer` on the model a request names (field `model`), or down the ladder from the requested tier.
    pub fn run_requested<T>(&self, model: Option<&str>, tier: Option<Tier>, infer: impl FnMut(&M) -> Result<T>) -> Result<(T, Answered<'_>)> {
        self.check_request(model, tier)?;
        match model {
            Some(id) => self.run_model(id, "model", infer),
            None => self.run(tier, infer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::registry::Modality;

    fn spec(id: &str, tier: Tier) -> Arc<ModelEntry> {
        let manifest = serde_json::from_value(serde_json::json!({
            "id": id, "version": "1", "description": "test", "tier": tier, "runtime": "builtin",
            "architecture": "lexicon", "files": [], "licence": "none"
        }))
        .unwrap();
        Arc::new(ModelEntry { manifest: Arc::new(manifest), modality: Modality::Text, folder: ".".into(), custom: false, precision: crate::Precision::Int8, inference: crate::Inference::default() })
    }

    fn missing(id: &str) -> LoadError {
        LoadError::MissingFile { path: id.into() }
    }

    fn ladder() -> Ladder<u32> {
        Ladder::new(
            "text",
            vec![
                Rung::new(spec("big", Tier::Primary), |_| Err(missing("big.onnx"))),
                Rung::new(spec("small", Tier::Secondary), |_| Ok(2)),
                Rung::new(spec("rules", Tier::Fallback), |_| Ok(3)),
            ],
        )
    }

    #[test]
    fn missing_model_hands_over_to_next_rung() {
        let ladder = ladder();
        let (value, answered) = ladder.run(None, |m| Ok(*m)).unwrap();
        assert_eq!(value, 2);
        assert_eq!(answered.entry.tier(), Tier::Secondary);
        assert_eq!(answered.skipped, vec!["primary (big): big.onnx: file not found".to_string()]);
        assert!(!ladder.rungs()[0].is_loaded());
        assert!(ladder.rungs()[1].is_loaded());
        assert!(!ladder.rungs()[2].is_loaded());
    }

    #[test]
    fn pinned_tier_starts_lower() {
        let ladder = ladder();
        let (value, answered) = ladder.run(Some(Tier::Fallback), |m| Ok(*m)).unwrap();
        assert_eq!((value, answered.entry.tier()), (3, Tier::Fallback));
        assert!(answered.skipped.is_empty());
    }

    #[test]
    fn run_failure_degrades_but_bad_input_does_not() {
        let ladder = ladder();
        let (value, answered) =
            ladder.run(None, |m| if *m == 2 { Err(Error::Model { model: "small".into(), message: "nan".into() }) } else { Ok(*m) }).unwrap();
        assert_eq!((value, answered.skipped.len()), (3, 2));
        let err = ladder.run(None, |_| -> Result<u32> { Err(Error::invalid("text", "empty")) }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn a_named_model_answers_alone() {
        let mut ladder = ladder();
        ladder.add_named(Rung::new(spec("mine", Tier::Primary), |_| Ok(9)));
        let (value, answered) = ladder.run_model("mine", "model", |m| Ok(*m)).unwrap();
        assert_eq!((value, answered.entry.id()), (9, "mine"));
        assert_eq!(ladder.run(None, |m| Ok(*m)).unwrap().0, 2, "named models are not rungs");
        assert_eq!(ladder.run_model("big", "model", |m| Ok(*m)).unwrap_err().kind(), ErrorKind::ModelUnavailable);
        let err = ladder.run_model("yours", "model", |m| Ok(*m)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("big, small, rules, mine"), "{err}");
    }

    #[test]
    fn nothing_loads_is_model_unavailable() {
        let ladder: Ladder<u32> = Ladder::new("text", vec![Rung::new(spec("big", Tier::Primary), |_| Err(missing("gone")))]);
        assert_eq!(ladder.run(None, |m| Ok(*m)).unwrap_err().kind(), ErrorKind::ModelUnavailable);
    }
}
