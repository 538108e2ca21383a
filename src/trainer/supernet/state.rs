//! Saving and restoring a supernet under training (format: the parent module's
//! documentation, "State").

use super::*;

/// Name of the supernet's state in a run store.
pub const STATE_NAME: &str = "supernet";
/// Format of [`Evaluator::save_state`]'s bytes (see the module documentation).
pub const STATE_FORMAT: &str = "seminas-supernet-1";

/// Why a supernet state could not be saved or restored.
#[derive(Debug, thiserror::Error)]
pub enum SupernetStateError {
    /// The bytes are not a readable supernet state.
    #[error("not a readable supernet state: {0}")]
    Damaged(String),
    /// Another format version.
    #[error("the state is in format {found:?}; this seminas reads {STATE_FORMAT:?}")]
    Format {
        /// The state's format.
        found: String,
    },
    /// A state of a supernet with other settings.
    #[error(
        "the state is of another supernet: its {what} is {stored}, this supernet's is {current}"
    )]
    Mismatch {
        /// The setting.
        what: String,
        /// Its value in the state.
        stored: String,
        /// Its value here.
        current: String,
    },
    /// An earlier evaluation panicked while the supernet trained, leaving no network.
    #[error("the supernet was lost when an evaluation panicked while training it")]
    Lost,
    /// Serialisation failed.
    #[error("cannot serialise the supernet: {0}")]
    Save(String),
}

impl SupernetEvaluator {
    /// The state as bytes (see the module documentation).
    pub(super) fn state_bytes(&self) -> Result<Vec<u8>, SupernetStateError> {
        let save = |e: String| SupernetStateError::Save(e);
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let net = state.net.as_ref().ok_or(SupernetStateError::Lost)?;
        let weights = net
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| save(e.to_string()))?;
        let optim = state.opt.into_bytes().map_err(|e| save(e.to_string()))?;
        let order: Vec<u8> = state
            .order
            .iter()
            .flat_map(|&i| (i as u32).to_le_bytes())
            .collect();
        let views = [
            ("net", Dtype::U8, vec![weights.len()], &weights[..]),
            ("optimizer", Dtype::U8, vec![optim.len()], &optim[..]),
            ("order", Dtype::U32, vec![state.order.len()], &order[..]),
        ]
        .into_iter()
        .map(|(name, dtype, shape, data)| {
            TensorView::new(dtype, shape, data)
                .map(|v| (name.to_string(), v))
                .map_err(|e| save(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
        let settings: serde_json::Map<String, serde_json::Value> = self
            .settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone().into()))
            .collect();
        let pool: Vec<Vec<u32>> = state
            .pool
            .iter()
            .map(|a| a.ops().iter().map(|o| o.token()).collect())
            .collect();
        let rng = serde_json::json!({
            "seed": state.rng.get_seed().iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "stream": state.rng.get_stream().to_string(),
            "word_pos": state.rng.get_word_pos().to_string(),
        });
        let meta = std::collections::HashMap::from([
            ("format".to_string(), STATE_FORMAT.to_string()),
            (
                "config".to_string(),
                serde_json::Value::Object(settings).to_string(),
            ),
            ("rng".to_string(), rng.to_string()),
            (
                "pool".to_string(),
                serde_json::to_string(&pool).expect("tokens serialise"),
            ),
            ("next".to_string(), state.next.to_string()),
            ("steps".to_string(), state.steps.to_string()),
        ]);
        safetensors::tensor::serialize(views, Some(meta)).map_err(|e| save(e.to_string()))
    }

    /// Replaces the state by one [`Self::state_bytes`] wrote; checks everything before
    /// changing anything.
    pub(super) fn restore(&self, bytes: &[u8]) -> Result<(), SupernetStateError> {
        let damaged = |e: String| SupernetStateError::Damaged(e);
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| damaged(e.to_string()))?;
        let meta = header
            .metadata()
            .clone()
            .ok_or_else(|| damaged("no metadata".into()))?;
        let get = |k: &str| {
            meta.get(k)
                .ok_or_else(|| damaged(format!("the metadata lacks {k:?}")))
        };
        let format = get("format")?;
        if format != STATE_FORMAT {
            return Err(SupernetStateError::Format {
                found: format.clone(),
            });
        }
        let settings: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(get("config")?).map_err(|e| damaged(format!("config: {e}")))?;
        for (what, current) in &self.settings {
            let stored = settings.get(*what).and_then(|v| v.as_str());
            if stored != Some(current.as_str()) {
                return Err(SupernetStateError::Mismatch {
                    what: what.to_string(),
                    stored: stored.unwrap_or("absent").to_string(),
                    current: current.clone(),
                });
            }
        }
        let rng: serde_json::Value =
            serde_json::from_str(get("rng")?).map_err(|e| damaged(format!("rng: {e}")))?;
        let field = |k: &str| {
            rng[k]
                .as_str()
                .ok_or_else(|| damaged(format!("rng lacks {k}")))
        };
        let hex = field("seed")?;
        let mut seed = [0u8; 32];
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(damaged("rng seed: not 64 hex digits".into()));
        }
        for (i, b) in seed.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|e| damaged(format!("rng seed: {e}")))?;
        }
        let stream: u64 = field("stream")?
            .parse()
            .map_err(|e| damaged(format!("rng stream: {e}")))?;
        let word_pos: u128 = field("word_pos")?
            .parse()
            .map_err(|e| damaged(format!("rng word_pos: {e}")))?;
        let blocks = self.skeleton.num_blocks();
        let tokens: Vec<Vec<u32>> =
            serde_json::from_str(get("pool")?).map_err(|e| damaged(format!("pool: {e}")))?;
        let pool = tokens
            .iter()
            .map(|t| {
                let ops: Option<Box<[MobileOp]>> =
                    t.iter().map(|&t| MobileOp::from_token(t)).collect();
                ops.filter(|ops| ops.len() == blocks)
                    .map(MobileArch)
                    .ok_or_else(|| damaged(format!("pool: {t:?} is not an architecture")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let number = |k: &str| -> Result<usize, SupernetStateError> {
            get(k)?.parse().map_err(|e| damaged(format!("{k}: {e}")))
        };
        let (next, steps) = (number("next")?, number("steps")?);
        let st = SafeTensors::deserialize(bytes).map_err(|e| damaged(e.to_string()))?;
        let tensor = |name: &str, dtype: Dtype| {
            let t = st
                .tensor(name)
                .map_err(|e| damaged(format!("{name}: {e}")))?;
            if t.dtype() != dtype {
                return Err(damaged(format!(
                    "{name}: {:?}, expected {dtype:?}",
                    t.dtype()
                )));
            }
            Ok(t.data())
        };
        let order: Vec<usize> = tensor("order", Dtype::U32)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
            .collect();
        let images = self.data.train.len();
        if !(order.is_empty() || order.len() == self.train.len())
            || order.iter().any(|&i| i >= images)
            || next > order.len()
        {
            return Err(damaged("the image order does not fit the dataset".into()));
        }
        let weights = Bytes::from_bytes_vec(tensor("net", Dtype::U8)?.to_vec());
        let optim = Bytes::from_bytes_vec(tensor("optimizer", Dtype::U8)?.to_vec());
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *guard;
        let net = match &state.net {
            Some(net) => net.clone(),
            None => return Err(SupernetStateError::Lost),
        };
        // burn may panic on records it cannot read; a damaged state must not end the run.
        let config = &self.config;
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let record = ModuleRecord::from_bytes(weights).map_err(|e| e.to_string())?;
            let net = net.try_load_record(record).map_err(|e| e.to_string())?;
            let opt = optimizer(config)
                .from_bytes(optim)
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((net, opt))
        }))
        .map_err(|_| damaged("burn could not read the weights".into()))?;
        let (net, opt) = loaded.map_err(damaged)?;
        let mut rng = Rng::from_seed(seed);
        rng.set_stream(stream);
        rng.set_word_pos(word_pos);
        *state = State {
            net: Some(net),
            opt,
            rng,
            pool,
            order,
            next,
            steps,
        };
        Ok(())
    }
}
