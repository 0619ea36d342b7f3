from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_deploy.schema import FeatureSpec, SchemaError, encode_frame, encode_records

FEATURES = [
    FeatureSpec(name="tenure", type="numeric", nullable=False, min=0, max=100),
    FeatureSpec(name="plan", type="categorical", nullable=True, categories=["basic", "pro"]),
    FeatureSpec(name="charge", type="numeric", nullable=True, min=0, max=500),
]


def test_records_encode_in_manifest_order_with_category_codes() -> None:
    encoded = encode_records(
        [{"charge": 9.5, "plan": "pro", "tenure": 3}, {"tenure": 1, "plan": "basic"}], FEATURES
    )
    assert encoded.dtype == np.float64
    np.testing.assert_array_equal(encoded[0], [3.0, 1.0, 9.5])
    assert encoded[1][:2].tolist() == [1.0, 0.0] and math.isnan(encoded[1][2])


def test_missing_none_and_unknown_category_become_nan() -> None:
    encoded = encode_records([{"tenure": None, "plan": "enterprise"}], FEATURES)
    assert np.isnan(encoded).all(), f"expected all NaN, got {encoded}"


def test_non_numeric_value_names_the_field() -> None:
    with pytest.raises(SchemaError, match=r"'tenure'.*expected a number"):
        encode_records([{"tenure": "ten"}], FEATURES)


def test_empty_batch_has_the_feature_width() -> None:
    assert encode_records([], FEATURES).shape == (0, 3)


def test_frame_and_records_encode_identically(sample_frame: pd.DataFrame, sample_features) -> None:
    head = sample_frame.head(300)
    records = head.astype(object).where(head.notna(), None).to_dict(orient="records")
    np.testing.assert_array_equal(
        encode_frame(head, sample_features), encode_records(records, sample_features)
    )


def test_frame_missing_column_is_named() -> None:
    with pytest.raises(SchemaError, match="charge"):
        encode_frame(pd.DataFrame({"tenure": [1.0], "plan": ["pro"]}), FEATURES)


def test_frame_text_in_numeric_column_is_named() -> None:
    frame = pd.DataFrame({"tenure": ["x"], "plan": ["pro"], "charge": [1.0]})
    with pytest.raises(SchemaError, match=r"'tenure'.*expected numeric"):
        encode_frame(frame, FEATURES)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "tenure": st.floats(0, 100) | st.none(),
                "plan": st.sampled_from(["basic", "pro", "other"]) | st.none(),
                "charge": st.floats(0, 500) | st.none(),
            }
        ),
        max_size=20,
    )
)
def test_encode_records_round_trips(records: list[dict[str, object]]) -> None:
    encoded = encode_records(records, FEATURES)
    categories = FEATURES[1].categories or []
    for record, row in zip(records, encoded, strict=True):
        decoded_plan = None if math.isnan(row[1]) else categories[int(row[1])]
        expected_plan = record["plan"] if record["plan"] in categories else None
        assert decoded_plan == expected_plan
        for j, name in ((0, "tenure"), (2, "charge")):
            assert (math.isnan(row[j]) and record[name] is None) or row[j] == record[name]
