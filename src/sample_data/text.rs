//! Vocabulary of the exports: Chinese company and person names, industries, regions, product
//! lines and ticket subjects. Every Chinese character here must exist in GBK.

use super::dist::{chance, pick, Stream};

pub const PRODUCT_LINES: [&str; 6] = ["云服务", "数据分析", "咨询", "培训", "运维", "安全"];
pub const INDUSTRIES: [&str; 8] = ["制造业", "金融", "零售", "医疗", "教育", "物流", "能源", "互联网"];
pub const REGIONS: [&str; 7] = ["华东", "华北", "华南", "西南", "华中", "东北", "西北"];
pub const MANAGERS: [&str; 12] =
    ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴婷", "徐强", "孙悦"];

/// The customer's key contacts: a surname and a role, e.g. "刘总监 (采购)".
pub const CONTACT_SURNAMES: [&str; 10] = ["刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马"];
pub const CONTACT_ROLES: [&str; 5] = ["采购总监", "IT总监", "HR总监", "财务经理", "运营总监"];

const CITIES: [&str; 16] = [
    "上海", "北京", "深圳", "广州", "杭州", "南京", "成都", "武汉", "苏州", "西安", "天津", "重庆", "青岛", "厦门",
    "长沙", "沈阳",
];
const WORDS: [&str; 16] = [
    "华信", "恒达", "博远", "瑞丰", "金桥", "中科", "天润", "宏图", "明德", "新元", "海纳", "安泰", "鼎盛", "嘉禾",
    "东方", "联创",
];
const TRADES: [&str; 8] = ["科技", "实业", "信息技术", "贸易", "医药", "物流", "能源", "教育科技"];
const SUFFIXES: [&str; 3] = ["有限公司", "股份有限公司", "集团有限公司"];

/// City + word + trade + suffix; about 1 in 50 carries a comma or quotes, as hand-typed CRM
/// names do, so the CSV writer has to quote it.
pub fn company_name(rng: &mut Stream) -> String {
    let (city, word) = (pick(rng, &CITIES), pick(rng, &WORDS));
    let (trade, suffix) = (pick(rng, &TRADES), pick(rng, &SUFFIXES));
    if !chance(rng, 0.02) {
        format!("{city}{word}{trade}{suffix}")
    } else if chance(rng, 0.5) {
        format!("{city}{word}{trade}{suffix},{city}分公司")
    } else {
        format!("{city}\"{word}\"{trade}{suffix}")
    }
}

/// Ticket subjects by kind; some carry `;`, `,`, quotes or a line break on purpose.
pub const COMPLAINT_SUBJECTS: [&str; 8] = [
    "发票金额与合同不符",
    "系统响应慢，影响业务",
    "Invoice total wrong; please re-issue",
    "Outage again, no update from support",
    "客户反馈：\"服务态度差\"",
    "Second request: refund, credit note and apology",
    "Report export fails\nerror 500 since the upgrade",
    "数据同步延迟；多次催促未解决",
];
pub const PRAISE_SUBJECTS: [&str; 4] = [
    "感谢实施团队的支持",
    "Great onboarding, thanks to the \"data\" team",
    "培训效果很好；希望继续合作",
    "Quick fix on the dashboard",
];
pub const REQUEST_SUBJECTS: [&str; 6] = [
    "申请增加用户账号",
    "Need API access; sandbox too",
    "Please add 2 seats, invoice monthly",
    "请提供发票，抬头见附件\n税号另发",
    "Schedule a training session",
    "咨询续约价格",
];
