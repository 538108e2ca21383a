//! The evaluable pool: when an evaluator can answer only a known set of architectures (a
//! table), the searchers that rank candidates with a predictor rank that set instead of
//! generating candidates blind, most of which the table would not hold.

use std::collections::HashSet;
use std::sync::Arc;

use crate::benchmark::Evaluator;
use crate::space::SearchSpace;

/// Largest space listed in full to find the table's architectures (NAS-Bench-101's 423,624
/// cells are listed; a categorical space of a billion combinations is not).
pub const ENUMERATE_LIMIT: usize = 1_000_000;

/// The architectures `evaluator` can evaluate, one per canonical key, in the space's listing
/// order (or the evaluator's key order where the space cannot list itself). `None` when the
/// evaluator can evaluate anything or none of its keys is an architecture of `space`.
pub fn evaluable_pool<S, E>(space: &S, evaluator: &E) -> Option<Arc<[S::Arch]>>
where
    S: SearchSpace,
    E: Evaluator<S> + ?Sized,
{
    let keys = evaluator.known_keys()?;
    let pool: Vec<S::Arch> = match space.enumerate(ENUMERATE_LIMIT) {
        Some(all) => {
            let keys: HashSet<&str> = keys.iter().map(String::as_str).collect();
            all.into_iter()
                .filter(|a| keys.contains(space.key(a).as_str()))
                .collect()
        }
        None => keys
            .iter()
            .filter_map(|k| space.parse(k).ok().filter(|a| space.key(a) == *k))
            .collect(),
    };
    (!pool.is_empty()).then(|| pool.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::benchmark::nb101::embedded::{nb101_20k_benchmark, nb101_20k_space};
    use crate::benchmark::nb201::{NB201_OBJECTIVE, NB201_REPORT, nb201_benchmark};
    use crate::benchmark::{Table, TabularBenchmark};
    use crate::space::{CategoricalSpace, Nb201Space};

    #[test]
    fn tables_give_their_architectures() {
        let space = Nb201Space::new();
        let bench = nb201_benchmark(NB201_OBJECTIVE, NB201_REPORT).unwrap();
        let pool = evaluable_pool(&space, &bench).unwrap();
        assert_eq!(pool.len(), 15_625);
        let keys: HashSet<String> = pool.iter().map(|a| space.key(a)).collect();
        assert_eq!(keys.len(), 15_625);

        let space = nb101_20k_space();
        let pool = evaluable_pool(&space, &nb101_20k_benchmark()).unwrap();
        assert_eq!(pool.len(), 20_001);

        // A categorical space of 4 combinations whose table holds 2 of them.
        let space = CategoricalSpace::from_toml_str(
            "[[position]]\nname='a'\nchoices=['x','y']\n[[position]]\nname='b'\nchoices=['u','v']\n",
            "s",
        )
        .unwrap();
        let table =
            Table::read_categorical("t.csv", "a,b,acc\ny,u,1\nx,v,2\n".as_bytes(), &space).unwrap();
        let bench = TabularBenchmark::new(Arc::new(table), "acc", "acc", None).unwrap();
        let pool = evaluable_pool(&space, &bench).unwrap();
        let keys: Vec<String> = pool.iter().map(|a| space.key(a)).collect();
        assert_eq!(keys, vec!["a=x,b=v".to_string(), "a=y,b=u".to_string()]);
    }
}
