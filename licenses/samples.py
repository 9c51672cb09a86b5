"""Plausible sample field sets for every seeded licence type (demo world, tests, QR size measurements), the field
template of a type (:func:`template`, ``trust license types --fields``) and check characters for made-up codes
(:func:`uscc`, :func:`citizen_id`, ``trust util check-digit``).

The organisation and person codes are made-up but valid (GB 32100 / GB 11643 check characters).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from trust.crypto.errors import InputError
from trust.formats.identifiers import HolderCodeType, validate_holder
from trust.formats.names import make_uscc

if TYPE_CHECKING:
    from trust.formats.license_catalogue import LicenseType

ORG_USCC: Final = make_uscc("91330106MA2CFA4X0")
ORG2_USCC: Final = make_uscc("91440101MA5CXXX00")


def _citizen(prefix17: str) -> str:
    from stdnum.iso7064 import mod_11_2

    return prefix17 + str(mod_11_2.calc_check_digit(prefix17))


NEWBORN_ID: Final = _citizen("33010620260301002")

SAMPLES: Final[dict[str, dict[str, Any]]] = {
    # 营业执照
    "11100000000013338W101": {
        "name": "杭州示例科技有限公司",
        "uscc": ORG_USCC,
        "entity_type": "有限责任公司（自然人投资或控股）",
        "legal_representative": "张三",
        "business_scope": (
            "一般项目：技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广；软件开发；"
            "信息系统集成服务；数据处理和存储支持服务；人工智能应用软件开发；网络技术服务"
            "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）。"
        ),
        "registered_capital": "壹仟万元整",
        "established_on": "2020-05-20",
        "business_term_start": "2020-05-20",
        "domicile": "浙江省杭州市西湖区文三路100号8幢801室",
        "registration_authority": "杭州市西湖区市场监督管理局",
        "registered_on": "2026-01-08",
    },
    # 食品经营许可证
    "11100000000013338W102": {
        "operator_name": "杭州示例餐饮管理有限公司",
        "uscc": ORG_USCC,
        "legal_representative": "李四",
        "domicile": "浙江省杭州市上城区解放路50号",
        "business_premises": "浙江省杭州市上城区解放路50号一层",
        "main_business_form": "餐饮服务经营者",
        "business_items": ["热食类食品制售", "冷食类食品制售", "自制饮品制售"],
        "licence_number": "JY23301020012345",
        "supervising_authority": "杭州市上城区市场监督管理局",
        "supervisor": "王五",
        "issuing_authority": "杭州市上城区市场监督管理局",
        "issued_on": "2026-02-10",
    },
    # 建设工程企业资质证书
    "11100000000013338W103": {
        "enterprise_name": "浙江示例建设集团有限公司",
        "uscc": ORG_USCC,
        "legal_representative": "赵六",
        "address": "浙江省杭州市滨江区江南大道888号",
        "economic_nature": "有限责任公司",
        "certificate_number": "D233012345",
        "qualifications": ["建筑工程施工总承包壹级", "市政公用工程施工总承包贰级", "建筑装修装饰工程专业承包贰级"],
        "issuing_authority": "浙江省住房和城乡建设厅",
        "issued_on": "2026-03-01",
    },
    # 出生医学证明 (holder code given separately: the newborn's citizen ID)
    "11100000000013338W104": {
        "newborn_name": "王小明",
        "sex": "男",
        "born_at": "2026-03-01T08:30:00+08:00",
        "gestational_weeks": 39,
        "weight_g": 3350,
        "length_cm": 50,
        "birth_place": "浙江省杭州市西湖区",
        "birth_region": "330106",
        "medical_institution": "杭州市示例妇产科医院",
        "mother_name": "陈红",
        "mother_nationality": "中国",
        "mother_ethnicity": "汉族",
        "mother_id_number": _citizen("33010619920505002"),
        "father_name": "王强",
        "father_nationality": "中国",
        "father_ethnicity": "汉族",
        "father_id_number": _citizen("33010619900909001"),
        "certificate_number": "Q330123456",
        "issuing_institution": "杭州市示例妇产科医院",
        "issued_on": "2026-03-05",
    },
    # 道路运输经营许可证
    "11100000000013338W105": {
        "operator_name": "广州示例物流有限公司",
        "uscc": ORG2_USCC,
        "legal_representative": "孙七",
        "address": "广东省广州市天河区天河路1号",
        "economic_type": "有限责任公司",
        "business_scope": ["道路普通货物运输", "货物专用运输（集装箱）", "大型物件运输"],
        "licence_number": "440100123456",
        "issuing_authority": "广州市交通运输局",
        "issued_on": "2026-01-15",
    },
}


def sample(type_code: str) -> dict[str, Any]:
    """A sample field set that validates against the type (a copy)."""
    import copy

    return copy.deepcopy(SAMPLES[type_code])


def template(license_type: LicenseType) -> dict[str, Any]:
    """Every field of ``licence_type``, in the order of its schema, with a valid example value: the sample's where
    it has one, else one made from the field's schema. A starting point for ``trust license issue --fields``."""
    example = SAMPLES.get(license_type.code, {})
    return {
        name: example[name] if name in example else _example(schema) for name, schema in license_type.properties.items()
    }


def _example(schema: Any) -> Any:
    kind, form = schema.get("type"), schema.get("format")
    if "enum" in schema:
        return schema["enum"][0]
    if form in _FORMAT_EXAMPLES:
        return _FORMAT_EXAMPLES[form]
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "array":
        return [_example(schema.get("items", {}))]
    return str(schema.get("title", "text"))[: schema.get("maxLength", 100)]


_FORMAT_EXAMPLES: Final = {
    "date": "2030-12-31",
    "date-time": "2030-12-31T09:00:00+08:00",
    "uscc": ORG_USCC,
    "citizen-id": NEWBORN_ID,
    "region": "330106",
}
_USCC_ALPHABET: Final = re.compile(r"[0-9A-HJ-NP-RTUWXY]{17}")  # GB 32100: 0-9 and A-Z without I, O, S, V, Z


def uscc(prefix17: str) -> str:
    """The unified social credit code that ``prefix17`` (its first 17 characters) begins: the GB 32100 check
    character appended, the whole checked. For test data; :class:`InputError` for anything else."""
    text = prefix17.strip().upper()
    if not _USCC_ALPHABET.fullmatch(text):
        raise InputError(
            f"a unified social credit code starts with 17 characters of 0-9 and A-Z without I, O, S, V, Z; "
            f"got {len(text)} characters: {text[:40]!r}"
        )
    return validate_holder(make_uscc(text), HolderCodeType.USCC)


def citizen_id(prefix17: str) -> str:
    """The citizen identity number that ``prefix17`` (its first 17 digits) begins: the GB 11643 MOD 11-2 check
    character appended (``X`` for 10), the whole checked. For test data; :class:`InputError` for anything else."""
    text = prefix17.strip()
    if not re.fullmatch(r"[0-9]{17}", text):
        raise InputError(f"a citizen identity number starts with 17 digits; got {text[:40]!r}")
    try:
        return validate_holder(_citizen(text), HolderCodeType.CITIZEN_ID)
    except InputError:
        raise InputError(
            f"{text} does not begin a valid citizen identity number (GB 11643): digits 1-6 must be a GB/T 2260 "
            "region code and digits 7-14 a real birth date (YYYYMMDD)"
        ) from None
