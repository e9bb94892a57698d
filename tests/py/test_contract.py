"""docs/CONTRACT.md §2–§4, model side: what `chromaluma.contract` accepts and refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnx.helper as oh
import pytest
from onnx import TensorProto

from chromaluma import contract
from chromaluma.errors import ModelFormatError, ModelNotFoundError


def _card(kind: str = "chroma") -> dict:
    return {"kind": kind, "created": "2026-01-01T00:00:00Z", "software": {}, "training": {}, "metrics": {}}


def _image_info(name: str, channels: int, height: object = "H", width: object = "W") -> onnx.ValueInfoProto:
    return oh.make_tensor_value_info(name, TensorProto.FLOAT, [1, height, width, channels])


def _passthrough_model(props: dict[str, str] | None, *, confidence: bool = True, out_name: str = "restored",
                       height: object = "H") -> onnx.ModelProto:
    """A real, runnable graph: `restored` = input, `confidence` = its alpha channel."""
    nodes = [oh.make_node("Identity", ["image"], [out_name])]
    outputs = [_image_info(out_name, 4, height)]
    if confidence:
        nodes += [
            oh.make_node("Constant", [], ["starts"], value=oh.make_tensor("s", TensorProto.INT64, [1], [3])),
            oh.make_node("Constant", [], ["ends"], value=oh.make_tensor("e", TensorProto.INT64, [1], [4])),
            oh.make_node("Constant", [], ["axes"], value=oh.make_tensor("a", TensorProto.INT64, [1], [3])),
            oh.make_node("Slice", ["image", "starts", "ends", "axes"], ["confidence"]),
        ]
        outputs.append(_image_info("confidence", 1, height))
    graph = oh.make_graph(nodes, "passthrough", [_image_info("image", 4, height)], outputs)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)], ir_version=contract.MAX_IR_VERSION)
    for key, value in (props or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    return model


def _props(**overrides: object) -> dict[str, str]:
    fields = dict(kind="chroma", receptive_field=32, processing_scale=0.25, colorspace="display", card=_card())
    fields.update(overrides)
    return contract.metadata_props(contract.ModelContract(**fields))


def test_written_metadata_reads_back_identically():
    model = _passthrough_model(_props())
    read = contract.contract_of_proto(model, "m.onnx")
    assert (read.kind, read.receptive_field, read.processing_scale, read.colorspace) == ("chroma", 32, 0.25, "display")
    assert (read.frames_before, read.frames_after, read.format_version) == (0, 0, 1)
    assert read.has_confidence
    assert read.card == _card()
    assert all(key.startswith("chromaluma.") for key in _props())


def test_model_file_round_trip_and_runs_in_onnxruntime(tmp_path: Path):
    import onnxruntime as ort

    path = tmp_path / "m.onnx"
    onnx.save(_passthrough_model(_props(), confidence=False), str(path))
    read = contract.read_model_contract(path)
    assert read.kind == "chroma" and not read.has_confidence
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    frame = np.random.default_rng(0).random((1, 7, 5, 4), dtype=np.float32)
    (restored,) = session.run([contract.OUTPUT_NAME], {contract.INPUT_NAME: frame})
    np.testing.assert_array_equal(restored, frame)


def test_output_cannot_share_the_input_name():
    """Why the contract names the output `restored`: ONNX refuses an output named like the input."""
    with pytest.raises(onnx.checker.ValidationError, match="single static assignment"):
        _passthrough_model(None, confidence=False, out_name="image")


@pytest.mark.parametrize("missing", contract.REQUIRED_KEYS)
def test_each_missing_key_is_named(missing: str):
    props = _props()
    del props[missing]
    with pytest.raises(ModelFormatError, match=missing.replace(".", r"\.")):
        contract.contract_of_proto(_passthrough_model(props), "x.onnx")


def test_unknown_format_version_is_refused_with_advice():
    props = _props(format_version=99)
    with pytest.raises(ModelFormatError, match="format_version 99.*newer Chromaluma: upgrade Chromaluma"):
        contract.contract_of_proto(_passthrough_model(props), "x.onnx")


def test_unknown_kind_and_bad_card_are_refused():
    with pytest.raises(ModelFormatError, match="unknown model kind 'colour'"):
        contract.contract_of_proto(_passthrough_model(_props(kind="colour")), "x.onnx")
    props = _props()
    props["chromaluma.card"] = json.dumps({"kind": "chroma"})
    with pytest.raises(ModelFormatError, match="created"):
        contract.contract_of_proto(_passthrough_model(props), "x.onnx")


def test_fixed_frame_size_is_refused():
    with pytest.raises(ModelFormatError, match="fixed at 64"):
        contract.contract_of_proto(_passthrough_model(_props(), height=64), "x.onnx")


def test_wrong_io_names_are_refused():
    model = _passthrough_model(_props(), confidence=False, out_name="output")
    with pytest.raises(ModelFormatError, match="output 'restored' missing"):
        contract.contract_of_proto(model, "x.onnx")


def test_missing_and_corrupt_files_name_the_file(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="nope.onnx"):
        contract.read_model_contract(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not a model")
    with pytest.raises(ModelFormatError, match="bad.onnx"):
        contract.read_model_contract(bad)
