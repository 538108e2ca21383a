//! The SemiNAS/NAO controller: LSTM encoder, MLP predictor, attention LSTM decoder.
