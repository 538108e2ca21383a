//! Evaluators that train architectures outside this process: they turn an architecture into a
//! job somewhere else (a Ray cluster, ...) and read its result back.

pub mod ray;
