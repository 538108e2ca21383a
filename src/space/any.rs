//! One of the built-in spaces, chosen at run time: the user's choice ([`SpaceKind`], parsed
//! once, from `--space` or Python) and one dispatch over the four space types ([`AnyOf`] with
//! [`match_space!`](crate::match_space) and [`map_space!`](crate::map_space)), used by the CLI,
//! `seminas bench` and the Python bindings alike.

use std::path::PathBuf;
use std::str::FromStr;

use super::{CategoricalSpace, MobileSpace, Nb101Space, Nb201Space, SearchSpace};

/// A search space as a user names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpaceKind {
    /// `nb201`: NAS-Bench-201 cells (with the embedded CIFAR-10 table).
    Nb201,
    /// `nb101-20k`: the embedded 20,001-cell NAS-Bench-101 sample.
    Nb101Sample,
    /// `nb101`: every NAS-Bench-101 cell (the official file evaluates them).
    Nb101,
    /// `mobile`: the paper's MobileNet-style ImageNet space.
    Mobile,
    /// A TOML file defining a categorical space.
    Toml(PathBuf),
}

/// A space name that is none of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown search space {}: use nb201, nb101-20k, nb101, mobile or a .toml file defining a \
     categorical space",
    crate::settings::quoted(.0)
)]
pub struct UnknownSpace(pub String);

impl FromStr for SpaceKind {
    type Err = UnknownSpace;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(match name {
            "nb201" => SpaceKind::Nb201,
            "nb101-20k" => SpaceKind::Nb101Sample,
            "nb101" => SpaceKind::Nb101,
            "mobile" => SpaceKind::Mobile,
            _ if name.ends_with(".toml") => SpaceKind::Toml(PathBuf::from(name)),
            _ => return Err(UnknownSpace(name.to_string())),
        })
    }
}

impl std::fmt::Display for SpaceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpaceKind::Nb201 => f.write_str("nb201"),
            SpaceKind::Nb101Sample => f.write_str("nb101-20k"),
            SpaceKind::Nb101 => f.write_str("nb101"),
            SpaceKind::Mobile => f.write_str("mobile"),
            SpaceKind::Toml(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A family of types with one member per space type (a study of each space, a predictor
/// of each space, the spaces themselves): what [`AnyOf`] holds one of.
pub trait PerSpace {
    /// The member for space type `S`.
    type Of<S: SearchSpace>;
}

/// One member of family `F`, for whichever space was chosen.
pub enum AnyOf<F: PerSpace> {
    /// For NAS-Bench-201 cells.
    Nb201(F::Of<Nb201Space>),
    /// For NAS-Bench-101 cells.
    Nb101(F::Of<Nb101Space>),
    /// For a user-defined categorical space.
    Categorical(F::Of<CategoricalSpace>),
    /// For the MobileNet-style space.
    Mobile(F::Of<MobileSpace>),
}

impl<F: PerSpace> Clone for AnyOf<F>
where
    F::Of<Nb201Space>: Clone,
    F::Of<Nb101Space>: Clone,
    F::Of<CategoricalSpace>: Clone,
    F::Of<MobileSpace>: Clone,
{
    fn clone(&self) -> Self {
        crate::map_space!(self, x => x.clone())
    }
}

/// The family of the spaces themselves.
pub struct Spaces;

impl PerSpace for Spaces {
    type Of<S: SearchSpace> = S;
}

/// One of the built-in spaces.
pub type AnySpace = AnyOf<Spaces>;

impl AnySpace {
    /// The space's short name.
    pub fn name(&self) -> &str {
        crate::match_space!(self, s => s.name())
    }
}

/// Runs `$body` with `$x` bound to the member an [`AnyOf`] holds (by value, or by reference
/// when given a reference): one arm per space type, so `$body` may be generic over the space.
#[macro_export]
macro_rules! match_space {
    ($value:expr, $x:ident => $body:expr) => {
        match $value {
            $crate::space::AnyOf::Nb201($x) => $body,
            $crate::space::AnyOf::Nb101($x) => $body,
            $crate::space::AnyOf::Categorical($x) => $body,
            $crate::space::AnyOf::Mobile($x) => $body,
        }
    };
}

/// Like [`match_space!`](crate::match_space), wrapping `$body` in the same variant: turns
/// an `AnyOf<F>` into an `AnyOf<G>` (a space into its study, say).
#[macro_export]
macro_rules! map_space {
    ($value:expr, $x:ident => $body:expr) => {
        match $value {
            $crate::space::AnyOf::Nb201($x) => $crate::space::AnyOf::Nb201($body),
            $crate::space::AnyOf::Nb101($x) => $crate::space::AnyOf::Nb101($body),
            $crate::space::AnyOf::Categorical($x) => $crate::space::AnyOf::Categorical($body),
            $crate::space::AnyOf::Mobile($x) => $crate::space::AnyOf::Mobile($body),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_to_kinds_and_back() {
        for name in ["nb201", "nb101-20k", "nb101", "mobile", "spaces/my.toml"] {
            let kind: SpaceKind = name.parse().unwrap();
            assert_eq!(kind.to_string(), name);
        }
        assert_eq!(
            "spaces/my.toml".parse::<SpaceKind>(),
            Ok(SpaceKind::Toml(PathBuf::from("spaces/my.toml")))
        );
        let err = "nb301".parse::<SpaceKind>().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown search space \"nb301\": use nb201")
        );
    }

    #[test]
    fn one_dispatch_maps_a_space_to_a_member_of_another_family() {
        struct Keys;
        impl PerSpace for Keys {
            type Of<S: SearchSpace> = (S, String);
        }
        let space: AnySpace = AnyOf::Nb201(Nb201Space::new());
        let mut rng = crate::rng::rng_for(3, "test");
        let keyed: AnyOf<Keys> = map_space!(space.clone(), s => {
            let key = s.key(&s.sample(&mut rng));
            (s, key)
        });
        let AnyOf::Nb201((s, key)) = &keyed else {
            panic!("the variant is kept")
        };
        assert_eq!(s.key(&s.parse(key).unwrap()), *key);
        assert_eq!(space.name(), "nb201");
        assert_eq!(match_space!(&keyed, x => x.0.name().to_string()), "nb201");
    }
}
