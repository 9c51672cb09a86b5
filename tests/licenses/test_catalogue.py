"""The licence type catalogue (trust.formats.license_catalogue): codes, schemas, validity rules, the face."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from trust.crypto.errors import Code, InputError, NotFoundError
from trust.formats import identifiers as ids
from trust.formats import license_catalogue as catalogue
from trust.formats.identifiers import HolderCodeType
from trust.formats.license_catalogue import LicenseType, ValidityRule

USCC_A = "91330106MA2B0001XN"
USCC_B = "9144030071526726XG"
MOTHER_ID = "11010519491231002X"
FATHER_ID = "33010619900101123X"

SAMPLES: dict[str, dict[str, Any]] = {
    "营业执照": {
        "name": "杭州示例网络科技有限公司",
        "uscc": USCC_A,
        "entity_type": "有限责任公司（自然人投资或控股）",
        "legal_representative": "张三",
        "business_scope": "一般项目：技术服务、技术开发、技术咨询；软件开发。",
        "registered_capital": "1000万元人民币",
        "established_on": "2015-10-08",
        "business_term_start": "2015-10-08",
        "domicile": "浙江省杭州市西湖区文三路1号",
        "registration_authority": "杭州市西湖区市场监督管理局",
        "registered_on": "2024-03-05",
    },
    "食品经营许可证": {
        "operator_name": "深圳示例餐饮管理有限公司",
        "uscc": USCC_B,
        "legal_representative": "李四",
        "domicile": "广东省深圳市南山区科技园路2号",
        "business_premises": "广东省深圳市南山区科技园路2号一楼",
        "main_business_form": "餐饮服务经营者",
        "business_items": ["热食类食品制售", "冷食类食品制售"],
        "licence_number": "JY24403050012345",
        "issuing_authority": "深圳市市场监督管理局南山监管局",
        "issued_on": "2024-03-05",
    },
    "建设工程企业资质证书": {
        "enterprise_name": "浙江示例建设集团有限公司",
        "uscc": USCC_A,
        "legal_representative": "王五",
        "address": "浙江省杭州市拱墅区湖墅南路3号",
        "economic_nature": "有限责任公司",
        "certificate_number": "D233012345",
        "qualifications": ["建筑工程施工总承包一级", "市政公用工程施工总承包二级"],
        "issuing_authority": "浙江省住房和城乡建设厅",
        "issued_on": "2023-06-01",
    },
    "出生医学证明": {
        "newborn_name": "赵小六",
        "sex": "女",
        "born_at": "2024-03-05T08:30:00+08:00",
        "gestational_weeks": 39,
        "weight_g": 3250,
        "length_cm": 50,
        "birth_place": "浙江省杭州市上城区",
        "birth_region": "330102",
        "medical_institution": "浙江大学医学院附属妇产科医院",
        "mother_name": "钱七",
        "mother_nationality": "中国",
        "mother_ethnicity": "汉族",
        "mother_id_number": MOTHER_ID,
        "father_name": "赵八",
        "father_id_number": FATHER_ID,
        "certificate_number": "Q330123456",
        "issuing_institution": "浙江大学医学院附属妇产科医院",
        "issued_on": "2024-03-08",
    },
    "道路运输经营许可证": {
        "operator_name": "广州示例物流有限公司",
        "uscc": USCC_B,
        "legal_representative": "孙九",
        "address": "广东省广州市白云区机场路4号",
        "business_scope": ["道路普通货物运输", "货物专用运输（集装箱）"],
        "licence_number": "440111001234",
        "issuing_authority": "广州市交通运输局",
        "issued_on": "2022-01-10",
    },
}

TYPES = {t.name: t for t in catalogue.all_types()}


def test_seeded_types_and_their_codes() -> None:
    assert set(SAMPLES) <= set(TYPES)
    assert len(TYPES) >= 5
    codes = [t.code for t in catalogue.all_types()]
    assert codes == sorted(codes) and len(set(codes)) == len(codes)
    for license_type in catalogue.all_types():
        assert len(license_type.code) == 21
        assert ids.validate_type_code(license_type.code) == license_type.code
        assert license_type.code[:18] == catalogue.NATIONAL_AUTHORITY
        assert license_type.code[18:] not in {"009", "011"}  # the real type numbers stay unclaimed
        assert catalogue.get(license_type.code) is license_type
        # a licence identifier can be made under every type
        identifier = ids.make(license_type.code, "11330105002500287C", "2025052201")
        assert ids.parse(identifier).type_code == license_type.code
    assert TYPES["出生医学证明"].holder_kind == "person"
    assert TYPES["出生医学证明"].holder_code_type is HolderCodeType.CITIZEN_ID
    assert TYPES["营业执照"].holder_code_type is HolderCodeType.USCC


def test_get_unknown_and_malformed_codes() -> None:
    with pytest.raises(NotFoundError) as caught:
        catalogue.get("11100000000013338W999")
    assert caught.value.code is Code.NOT_FOUND
    with pytest.raises(InputError, match="21 characters"):
        catalogue.get("11100000000013338W1")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_schema_accepts_its_sample(name: str) -> None:
    license_type = TYPES[name]
    assert license_type.fields["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert catalogue.validate_fields(license_type, SAMPLES[name]) == SAMPLES[name]
    assert license_type.holder_name_field in SAMPLES[name]
    if license_type.holder_code_field:
        assert ids.validate_holder(SAMPLES[name][license_type.holder_code_field], license_type.holder_code_type)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_schema_names_every_missing_required_field(name: str) -> None:
    license_type = TYPES[name]
    for required in license_type.fields["required"]:
        fields = {k: v for k, v in SAMPLES[name].items() if k != required}
        with pytest.raises(InputError) as caught:
            catalogue.validate_fields(license_type, fields)
        assert caught.value.evidence["fields"] == [required]
        assert "missing required field" in caught.value.message
        assert license_type.label(required) in caught.value.message


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_schema_refuses_unknown_fields(name: str) -> None:
    with pytest.raises(InputError) as caught:
        catalogue.validate_fields(TYPES[name], {**SAMPLES[name], "备注": "x", "colour": "red"})
    assert caught.value.evidence["fields"] == ["colour", "备注"]
    assert "unknown field" in caught.value.message


WRONG: list[tuple[str, str, Any, str]] = [
    ("营业执照", "uscc", "91330106MA2B0001XM", "unified social credit code"),
    ("营业执照", "established_on", "2015-02-30", "date YYYY-MM-DD"),
    ("营业执照", "established_on", "2015/10/08", "date YYYY-MM-DD"),
    ("营业执照", "legal_representative", "", "must not be empty"),
    ("营业执照", "business_scope", "经" * 4001, "is longer than 4000 characters"),
    ("食品经营许可证", "licence_number", "JY44403050012345", "does not match the pattern ^JY[1-3][0-9]{13}$"),
    ("食品经营许可证", "main_business_form", "食品生产者", "must be one of 食品销售经营者、餐饮服务经营者、单位食堂"),
    ("食品经营许可证", "business_items", [], "must list at least 1 item"),
    ("食品经营许可证", "business_items", ["热食类食品制售", "热食类食品制售"], "lists the same item twice"),
    ("建设工程企业资质证书", "certificate_number", "D23301234", "does not match"),
    ("建设工程企业资质证书", "qualifications", "建筑工程施工总承包一级", "must be a list"),
    ("出生医学证明", "mother_id_number", "110105194912310021", "citizen identity number"),
    ("出生医学证明", "born_at", "2024-03-05 08:30:00", "with an offset"),
    ("出生医学证明", "born_at", "2024-03-05T08:30:00", "with an offset"),
    ("出生医学证明", "sex", "未知", "must be one of 男、女"),
    ("出生医学证明", "weight_g", 3250.5, "must be a whole number"),
    ("出生医学证明", "weight_g", 90000, "must be at most 8000"),
    ("出生医学证明", "birth_region", "999999", "GB/T 2260 region code"),
    ("出生医学证明", "certificate_number", "q330123456", "does not match"),
    ("道路运输经营许可证", "licence_number", "44011100123", "does not match"),
    ("道路运输经营许可证", "issued_on", 20220110, "must be text"),
]


@pytest.mark.parametrize(("name", "field", "value", "words"), WRONG)
def test_wrong_values_are_named(name: str, field: str, value: Any, words: str) -> None:
    with pytest.raises(InputError) as caught:
        catalogue.validate_fields(TYPES[name], {**SAMPLES[name], field: value})
    assert caught.value.evidence["fields"] == [field]
    assert f"'{field}'" in caught.value.message
    assert words in caught.value.message


def test_every_bad_field_is_listed_at_once() -> None:
    fields = {**SAMPLES["营业执照"], "uscc": "X", "established_on": "yesterday", "extra": 1}
    del fields["name"]
    with pytest.raises(InputError) as caught:
        catalogue.validate_fields(TYPES["营业执照"], fields)
    assert sorted(caught.value.evidence["fields"]) == ["established_on", "extra", "name", "uscc"]
    assert len(caught.value.evidence["errors"]) == 4


def test_dependent_fields() -> None:
    birth = TYPES["出生医学证明"]
    no_father = {k: v for k, v in SAMPLES["出生医学证明"].items() if not k.startswith("father_")}
    assert catalogue.validate_fields(birth, no_father) == no_father
    with pytest.raises(InputError) as caught:
        catalogue.validate_fields(birth, {**no_father, "father_id_number": FATHER_ID})
    assert caught.value.evidence["fields"] == ["father_name"]
    business = TYPES["营业执照"]
    with pytest.raises(InputError, match="business_term_start"):
        catalogue.validate_fields(
            business,
            {k: v for k, v in SAMPLES["营业执照"].items() if k != "business_term_start"}
            | {"business_term_end": "2045-10-07"},
        )


def test_fields_are_normalised() -> None:
    fields = {**SAMPLES["营业执照"], "name": "  杭州示例网络科技有限公司 \n", "uscc": USCC_A.lower()}
    result = catalogue.validate_fields(TYPES["营业执照"], fields)
    assert result["name"] == "杭州示例网络科技有限公司"
    assert result["uscc"] == USCC_A
    # NFC: a decomposed character is composed
    assert (
        catalogue.validate_fields(TYPES["营业执照"], {**fields, "legal_representative": "Jose\u0301"})[
            "legal_representative"
        ]
        == "Jos\u00e9"
    )
    assert fields["uscc"] == USCC_A.lower()  # the caller's mapping is left alone


def test_non_json_and_oversized_fields_are_refused() -> None:
    with pytest.raises(InputError, match="JSON object"):
        catalogue.validate_fields(TYPES["营业执照"], [("name", "x")])
    with pytest.raises(InputError, match="JSON values"):
        catalogue.validate_fields(TYPES["营业执照"], {**SAMPLES["营业执照"], "established_on": date(2015, 10, 8)})
    with pytest.raises(InputError, match="exceed"):
        catalogue.validate_fields(TYPES["营业执照"], {**SAMPLES["营业执照"], "business_scope": "经" * 30_000})


# --- the face ---------------------------------------------------------------------------------------------------


def test_face_items_follow_title_fields_and_format_values() -> None:
    business = TYPES["营业执照"]
    items = catalogue.face_items(business, SAMPLES["营业执照"])
    labels = [label for label, _ in items]
    expected = [business.label(n) for n in business.title_fields if n in SAMPLES["营业执照"]]
    assert labels == expected
    assert labels[:3] == ["统一社会信用代码", "名称", "类型"]
    assert "营业期限至" not in labels  # optional and absent
    faced = dict(items)
    assert faced["成立日期"] == "2015年10月08日"
    assert faced["注册资本"] == "1000万元人民币"

    food = dict(catalogue.face_items(TYPES["食品经营许可证"], SAMPLES["食品经营许可证"]))
    assert food["经营项目"] == "热食类食品制售；冷食类食品制售"
    birth = dict(catalogue.face_items(TYPES["出生医学证明"], SAMPLES["出生医学证明"]))
    assert birth["出生时间"] == "2024年03月05日08时30分"
    assert birth["出生体重（克）"] == "3250"
    assert "出生地区划代码" not in birth  # not a face field


def test_face_items_refuse_invalid_fields() -> None:
    with pytest.raises(InputError, match="missing required field"):
        catalogue.face_items(TYPES["营业执照"], {"name": "x"})


# --- validity ---------------------------------------------------------------------------------------------------------


def test_validity_rules() -> None:
    food = TYPES["食品经营许可证"].validity
    assert food.window(date(2024, 3, 5)) == (date(2024, 3, 5), date(2029, 3, 4))
    assert food.window(date(2024, 2, 29)) == (date(2024, 2, 29), date(2029, 2, 27))
    assert food.window(date(2024, 3, 5), date(2026, 1, 1)) == (date(2024, 3, 5), date(2026, 1, 1))
    with pytest.raises(InputError) as caught:
        food.window(date(2024, 3, 5), date(2029, 3, 5))
    assert caught.value.evidence["latest"] == "2029-03-04"
    with pytest.raises(InputError, match="before its start"):
        food.window(date(2024, 3, 5), date(2024, 3, 4))

    assert TYPES["营业执照"].validity.window(date(2024, 3, 5)) == (date(2024, 3, 5), None)
    road = TYPES["道路运输经营许可证"].validity
    assert road.window(date(2022, 1, 10))[1] == date(2026, 1, 9)
    assert road.window(date(2022, 1, 10), date(2030, 1, 9))[1] == date(2030, 1, 9)
    with pytest.raises(InputError, match="96 months"):
        road.window(date(2022, 1, 10), date(2030, 1, 10))

    birth = TYPES["出生医学证明"].validity
    assert birth.window(date(2024, 3, 8)) == (date(2024, 3, 8), None)
    with pytest.raises(InputError, match="permanent"):
        birth.window(date(2024, 3, 8), date(2100, 1, 1))

    required = ValidityRule(end_required=True)
    with pytest.raises(InputError, match="needs a validity end"):
        required.window(date(2024, 1, 1))
    with pytest.raises(InputError, match="exceeds max_months"):
        ValidityRule(default_months=12, max_months=6)
    with pytest.raises(InputError, match="permanent"):
        ValidityRule(end_allowed=False, end_required=True)


def test_add_months_clamps_to_month_end() -> None:
    assert catalogue.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert catalogue.add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert catalogue.add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)
    assert catalogue.add_months(date(2024, 3, 5), 60) == date(2029, 3, 5)


# --- defining a type ----------------------------------------------------------------------------------------------


def _definition(**changes: Any) -> dict[str, Any]:
    base = TYPES["道路运输经营许可证"]
    definition = {
        "code": "11100000000013338W201",
        "name": "测试证照",
        "holder_kind": base.holder_kind,
        "fields": copy.deepcopy(dict(base.fields)),
        "title_fields": base.title_fields,
        "validity": base.validity,
        "description": "test",
        "holder_name_field": base.holder_name_field,
        "holder_code_field": base.holder_code_field,
    }
    definition.update(changes)
    return definition


def test_license_type_definitions_are_checked() -> None:
    LicenseType(**_definition())
    with pytest.raises(InputError, match="21 characters"):
        LicenseType(**_definition(code="11100000000013338W"))
    with pytest.raises(InputError, match="not valid JSON Schema"):
        LicenseType(**_definition(fields={"type": "object", "properties": {"a": {"type": "text"}}}))
    with pytest.raises(InputError, match="face fields"):
        LicenseType(**_definition(title_fields=("operator_name", "no_such_field")))
    with pytest.raises(InputError, match="holder field"):
        LicenseType(**_definition(holder_name_field="economic_type"))  # optional, so not a holder field
    with pytest.raises(InputError, match="format 'citizen-id'"):
        LicenseType(**_definition(holder_kind="person"))
    with pytest.raises(InputError, match="person"):
        LicenseType(**_definition(holder_kind="company"))


def test_a_type_owns_its_schema() -> None:
    definition = _definition()
    license_type = LicenseType(**definition)
    definition["fields"]["required"].clear()
    with pytest.raises(InputError, match="missing required field"):
        catalogue.validate_fields(license_type, {})
