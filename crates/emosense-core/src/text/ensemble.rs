//! Ensembles from configuration (`EMOTION_ENSEMBLES`): the weighted mean of other text models' distributions,
//! answering by its name like any model.

use std::sync::Arc;

use super::{Scored, TextModel};
use crate::budget::Budget;
use crate::config::EnsembleSpec;
use crate::emotion::EmotionScores;
use crate::error::{LoadError, Result};
use crate::registry::{Architecture, EnsembleMember, Modality, ModelEntry, ModelManifest, Role, Runtime};
use crate::tier::{Ladder, Rung, Tier};

type Member = Arc<Rung<Box<dyn TextModel>>>;

/// The rung of ensemble `spec` over models of `ladder`, whose members load when it first answers.
pub(super) fn rung(spec: &EnsembleSpec, ladder: &Ladder<Box<dyn TextModel>>) -> std::result::Result<Rung<Box<dyn TextModel>>, LoadError> {
    let members: Vec<(Member, f32)> = spec
        .members
        .iter()
        .map(|(id, weight)| {
            let member = ladder.find(id).cloned().ok_or_else(|| LoadError::BadManifest {
                path: "EMOTION_ENSEMBLES".into(),
                message: format!("ensemble {}: no text model is named {id:?}", spec.name),
            })?;
            Ok((member, *weight))
        })
        .collect::<std::result::Result<_, LoadError>>()?;
    let entry = Arc::new(ModelEntry::without_files(manifest(spec, &members), Modality::Text));
    Ok(Rung::new(entry, move |_| {
        let loaded = members.iter().map(|(member, weight)| Ok((member.get()?, *weight))).collect::<std::result::Result<_, LoadError>>()?;
        Ok(Box::new(Ensemble { members: loaded }) as Box<dyn TextModel>)
    }))
}

/// The ensemble's description: its members with their weights and versions, at the best tier among them.
fn manifest(spec: &EnsembleSpec, members: &[(Member, f32)]) -> ModelManifest {
    let entries: Vec<&ModelEntry> = members.iter().map(|(m, _)| m.entry().as_ref()).collect();
    ModelManifest {
        id: spec.name.clone(),
        version: entries.iter().map(|e| format!("{}@{}", e.id(), e.version())).collect::<Vec<_>>().join("+"),
        modality: Some(Modality::Text),
        description: format!("weighted mean of {} (EMOTION_ENSEMBLES)", entries.iter().map(|e| e.id()).collect::<Vec<_>>().join(", ")),
        tier: entries.iter().map(|e| e.tier()).min().unwrap_or(Tier::Fallback),
        role: Role::Classifier,
        runtime: Runtime::Builtin,
        architecture: Architecture::Ensemble,
        files: Vec::new(),
        labels: Vec::new(),
        label_map: Default::default(),
        input: None,
        ensemble: spec.members.iter().map(|(model, weight)| EnsembleMember { model: model.clone(), weight: *weight }).collect(),
        members: Vec::new(),
        licence: "as its members".into(),
        provenance: Default::default(),
    }
}

/// Loaded members and their weights (summing to 1).
struct Ensemble {
    members: Vec<(Arc<Box<dyn TextModel>>, f32)>,
}

impl TextModel for Ensemble {
    fn score(&self, texts: &[&str], batch_size: usize, budget: &Budget) -> Result<Vec<Scored>> {
        let answers = self.members.iter().map(|(model, _)| model.score(texts, batch_size, budget)).collect::<Result<Vec<_>>>()?;
        Ok((0..texts.len())
            .map(|i| Scored {
                scores: EmotionScores::weighted_mean(answers.iter().zip(&self.members).map(|(a, (_, w))| (&a[i].scores, *w))),
                tokens: answers.iter().map(|a| a[i].tokens).max().unwrap_or(0),
                chunks: answers.iter().map(|a| a[i].chunks).sum(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emotion::Emotion;

    /// A model answering one fixed distribution.
    struct Fixed(EmotionScores);

    impl TextModel for Fixed {
        fn score(&self, texts: &[&str], _: usize, _: &Budget) -> Result<Vec<Scored>> {
            Ok(texts.iter().map(|_| Scored { scores: self.0, tokens: 1, chunks: 1 }).collect())
        }
    }

    fn entry(id: &str) -> Arc<ModelEntry> {
        let manifest = serde_json::from_value(serde_json::json!({
            "id": id, "version": "1", "description": "test", "tier": "primary", "runtime": "in-process",
            "architecture": "in-process", "files": [], "licence": "none"
        }))
        .unwrap();
        Arc::new(ModelEntry::without_files(manifest, Modality::Text))
    }

    #[test]
    fn an_ensemble_is_the_weighted_mean_of_its_members() {
        let mut joy = [0.0; 7];
        joy[Emotion::Joy.index()] = 1.0;
        let mut spread = [0.1; 7];
        spread[Emotion::Sadness.index()] = 0.4;
        let (a, b) = (EmotionScores::normalized(joy), EmotionScores::normalized(spread));
        let mut ladder: Ladder<Box<dyn TextModel>> = Ladder::new("text", Vec::new());
        for (id, scores) in [("a", a), ("b", b)] {
            ladder.add_named(Rung::new(entry(id), move |_| Ok(Box::new(Fixed(scores)) as Box<dyn TextModel>)));
        }
        let spec = EnsembleSpec { name: "blend".into(), members: vec![("a".into(), 0.75), ("b".into(), 0.25)] };
        let blend = rung(&spec, &ladder).unwrap();
        assert_eq!(blend.entry().version(), "a@1+b@1");
        let scored = blend.get().unwrap().score(&["x", "y"], 8, &Budget::default()).unwrap();
        for (i, emotion) in Emotion::ALL.iter().enumerate() {
            let expected = 0.75 * a.as_array()[i] + 0.25 * b.as_array()[i];
            assert!((scored[1].scores.get(*emotion) - expected).abs() < 1e-6, "{emotion:?}");
        }
        assert_eq!((scored[0].tokens, scored[0].chunks), (1, 2));

        let missing = EnsembleSpec { name: "bad".into(), members: vec![("a".into(), 0.5), ("c".into(), 0.5)] };
        let err = rung(&missing, &ladder).err().unwrap();
        assert!(err.to_string().contains("no text model is named \"c\""), "{err}");
    }
}
