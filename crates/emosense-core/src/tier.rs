//! The tier ladder: each modality tries its rungs from the best model down to a rule-based fallback.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::registry::{ModelSpec, ModelStatus};

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

type Loader<M> = Box<dyn Fn() -> std::result::Result<M, String> + Send + Sync>;

/// One rung: a model described by its [`ModelSpec`], loaded on first use and kept for the life of the process.
pub struct Rung<M> {
    spec: ModelSpec,
    loader: Loader<M>,
    loaded: OnceLock<std::result::Result<Arc<M>, String>>,
}

impl<M> Rung<M> {
    /// A rung whose model `loader` builds on first use.
    pub fn new(spec: ModelSpec, loader: impl Fn() -> std::result::Result<M, String> + Send + Sync + 'static) -> Self {
        Rung { spec, loader: Box::new(loader), loaded: OnceLock::new() }
    }

    /// The model's description.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Whether the model has been loaded successfully in this process.
    pub fn is_loaded(&self) -> bool {
        matches!(self.loaded.get(), Some(Ok(_)))
    }

    /// The model, loading it on the first call. A failed load is remembered, not retried on every request.
    pub fn get(&self) -> std::result::Result<Arc<M>, String> {
        self.loaded.get_or_init(|| (self.loader)().map(Arc::new)).clone()
    }
}

/// Which rung answered, and why the rungs above it did not.
#[derive(Debug, Clone)]
pub struct Answered<'a> {
    pub spec: &'a ModelSpec,
    /// One line per skipped rung (`"primary (text-minilm): file not found ..."`).
    pub skipped: Vec<String>,
}

/// A modality's rungs, best first.
pub struct Ladder<M> {
    modality: &'static str,
    rungs: Vec<Rung<M>>,
}

impl<M> Ladder<M> {
    /// A ladder for `modality` from rungs ordered best first.
    pub fn new(modality: &'static str, rungs: Vec<Rung<M>>) -> Self {
        Ladder { modality, rungs }
    }

    /// The rungs, best first.
    pub fn rungs(&self) -> &[Rung<M>] {
        &self.rungs
    }

    /// Loads the model of the top rung now (for warm-up at start-up, where that time is free).
    pub fn warm_up(&self) -> std::result::Result<(), String> {
        self.rungs.first().map_or(Ok(()), |r| r.get().map(|_| ()))
    }

    /// Ids of the models loaded so far.
    pub fn loaded_models(&self) -> Vec<String> {
        self.rungs.iter().filter(|r| r.is_loaded()).map(|r| r.spec().id.clone()).collect()
    }

    /// Every rung's model with its load state, files and manifest entry under `model_dir`.
    pub fn models(&self, model_dir: &std::path::Path) -> Vec<ModelStatus> {
        self.rungs.iter().map(|r| ModelStatus::read(r.spec(), model_dir, r.is_loaded())).collect()
    }

    /// Runs `infer` on the first rung at or below `start` whose model loads and runs; a rung that fails to load or
    /// to run hands over to the next one. Errors about the request (bad input, a passed deadline) are returned at once: a lower tier would fail too.
    pub fn run<T>(&self, start: Option<Tier>, mut infer: impl FnMut(&M) -> Result<T>) -> Result<(T, Answered<'_>)> {
        let mut skipped = Vec::new();
        for rung in self.rungs.iter().filter(|r| start.is_none_or(|t| r.spec.tier >= t)) {
            let label = format!("{} ({})", rung.spec.tier.as_str(), rung.spec.id);
            let model = match rung.get() {
                Ok(model) => model,
                Err(reason) => {
                    skipped.push(format!("{label}: {reason}"));
                    continue;
                }
            };
            match infer(&model) {
                Ok(value) => return Ok((value, Answered { spec: &rung.spec, skipped })),
                Err(e) if e.is_about_the_request() => return Err(e),
                Err(e) => skipped.push(format!("{label}: {e}")),
            }
        }
        Err(Error::ModelUnavailable { modality: self.modality, reasons: skipped.join("; ") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::registry::Modality;

    fn spec(id: &str, tier: Tier) -> ModelSpec {
        ModelSpec::new(id, Modality::Text, tier, &[])
    }

    fn ladder() -> Ladder<u32> {
        Ladder::new(
            "text",
            vec![
                Rung::new(spec("big", Tier::Primary), || Err("file not found".into())),
                Rung::new(spec("small", Tier::Secondary), || Ok(2)),
                Rung::new(spec("rules", Tier::Fallback), || Ok(3)),
            ],
        )
    }

    #[test]
    fn missing_model_hands_over_to_next_rung() {
        let ladder = ladder();
        let (value, answered) = ladder.run(None, |m| Ok(*m)).unwrap();
        assert_eq!(value, 2);
        assert_eq!(answered.spec.tier, Tier::Secondary);
        assert_eq!(answered.skipped, vec!["primary (big): file not found".to_string()]);
        assert!(!ladder.rungs()[0].is_loaded());
        assert!(ladder.rungs()[1].is_loaded());
        assert!(!ladder.rungs()[2].is_loaded());
    }

    #[test]
    fn pinned_tier_starts_lower() {
        let ladder = ladder();
        let (value, answered) = ladder.run(Some(Tier::Fallback), |m| Ok(*m)).unwrap();
        assert_eq!((value, answered.spec.tier), (3, Tier::Fallback));
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
    fn nothing_loads_is_model_unavailable() {
        let ladder: Ladder<u32> = Ladder::new("text", vec![Rung::new(spec("big", Tier::Primary), || Err("gone".into()))]);
        assert_eq!(ladder.run(None, |m| Ok(*m)).unwrap_err().kind(), ErrorKind::ModelUnavailable);
    }
}
