"""PyTriton (Triton Inference Server with a Python model) serving the sklearn classifier."""

import argparse
import pathlib

import joblib
import numpy as np
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=pathlib.Path, required=True)
    parser.add_argument("--name", default="classifier")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--max-batch-size", type=int, default=0, help="0: no dynamic batching")
    args = parser.parse_args()
    model = joblib.load(args.model)
    features = int(model.n_features_in_)

    @batch
    def infer(input):
        return {"probabilities": model.predict_proba(input).astype(np.float32)}

    if args.max_batch_size > 0:
        config = ModelConfig(max_batch_size=args.max_batch_size, batcher=DynamicBatcher())
    else:
        config = ModelConfig(batching=False)
    batch_dim = () if args.max_batch_size > 0 else (-1,)
    triton_config = TritonConfig(
        http_address="127.0.0.1",
        http_port=args.http_port,
        grpc_address="127.0.0.1",
        grpc_port=args.grpc_port,
        metrics_port=args.metrics_port,
    )
    with Triton(config=triton_config) as triton:
        triton.bind(
            model_name=args.name,
            infer_func=infer,
            inputs=[Tensor(name="input", dtype=np.float32, shape=(*batch_dim, features))],
            outputs=[Tensor(name="probabilities", dtype=np.float32, shape=(*batch_dim, 3))],
            config=config,
            strict=False,
        )
        triton.serve()


if __name__ == "__main__":
    main()
