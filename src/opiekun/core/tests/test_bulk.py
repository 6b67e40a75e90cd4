from opiekun.core.bulk import SQLITE_MAX_PARAMS, value_rows


def test_value_rows_fill_each_statement_up_to_the_parameter_limit_in_order():
    rows = [(n, f"t{n}") for n in range(1200)]
    statements = list(value_rows(rows))
    per_statement = SQLITE_MAX_PARAMS // 2
    assert [values.count("(%s, %s)") for values, _flat in statements] == [per_statement, per_statement, 202]
    assert all(len(flat) == 2 * values.count("(") for values, flat in statements)
    assert [value for _values, flat in statements for value in flat] == [v for row in rows for v in row]


def test_value_rows_of_nothing_is_no_statement():
    assert list(value_rows([])) == []
