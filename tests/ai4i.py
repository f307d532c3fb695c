"""AI4I 2020's columns as the tests name them (params.yaml's dataset section declares them for the
code; scripts/ names none). Fixtures build readings and frames of the real data with these."""
from __future__ import annotations

RAW_COLUMNS = {"UDI": "udi", "Product ID": "product_id", "Type": "type", "Air temperature [K]": "air_temperature_k",
               "Process temperature [K]": "process_temperature_k", "Rotational speed [rpm]": "rotational_speed_rpm",
               "Torque [Nm]": "torque_nm", "Tool wear [min]": "tool_wear_min", "Machine failure": "machine_failure",
               "TWF": "twf", "HDF": "hdf", "PWF": "pwf", "OSF": "osf", "RNF": "rnf"}
TYPES = ["L", "M", "H"]
INPUT_COLUMNS = ["type", "air_temperature_k", "process_temperature_k", "rotational_speed_rpm", "torque_nm", "tool_wear_min"]
NUMERIC_INPUTS = INPUT_COLUMNS[1:]
READING_ALIASES = {raw: snake for raw, snake in RAW_COLUMNS.items() if snake in INPUT_COLUMNS or snake == "udi"}
INTEGER_COLUMNS = ["udi", "rotational_speed_rpm", "tool_wear_min", "machine_failure", "twf", "hdf", "pwf", "osf", "rnf"]
LABEL = "machine_failure"
SCORED_COLUMNS = [*INPUT_COLUMNS, LABEL]
FAILURE_MODES = ["twf", "hdf", "pwf", "osf", "rnf"]
