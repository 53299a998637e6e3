"""`auto` recipe fields resolve per ISA (sdopt/isa.py): tests that check what a recipe makes, op by op, name it
explicitly, so that they hold on AVX2 and on VNNI/AMX machines alike."""
CONV_ONLY_PTQ = "ov-int8-ptq[int8_scope=conv-only]"
