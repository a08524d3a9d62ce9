// Interface text of the public spot-check page (/spot-checks/{id}, 双随机抽查结果公示) and
// of the officials' link to it.

import { addStrings } from './i18n.js';

addStrings({
  zh: {
    'spotPublic.title': '双随机抽查结果公示',
    'spotPublic.region': '抽查地区',
    'spotPublic.period': '抽查周期',
    'spotPublic.seed': '随机种子',
    'spotPublic.method': '抽取方法',
    'spotPublic.drawnAt': '抽取时间',
    'spotPublic.targets': '抽查对象',
    'spotPublic.inspectors': '执法检查人员',
    'spotPublic.unit': '企业名称',
    'spotPublic.code': '统一社会信用代码',
    'spotPublic.assigned': '检查人员',
    'spotPublic.name': '姓名',
    'spotPublic.xlsx': '下载 XLSX',
    'spotPublic.note': '本次抽取的随机种子与对象库、检查人员库均已存档，任何人可据此复核抽取结果。',
    'spotPublic.missing': '未找到该抽查结果。',
    'spotPublic.open': '公示页面',
  },
  en: {
    'spotPublic.title': 'Random spot-check draw (published)',
    'spotPublic.region': 'Region',
    'spotPublic.period': 'Period',
    'spotPublic.seed': 'Random seed',
    'spotPublic.method': 'Method',
    'spotPublic.drawnAt': 'Drawn at',
    'spotPublic.targets': 'Enterprises drawn',
    'spotPublic.inspectors': 'Inspectors',
    'spotPublic.unit': 'Enterprise',
    'spotPublic.code': 'Credit code',
    'spotPublic.assigned': 'Inspectors',
    'spotPublic.name': 'Name',
    'spotPublic.xlsx': 'Download XLSX',
    'spotPublic.note': 'The seed and the pools of this draw are stored: anyone can reproduce it.',
    'spotPublic.missing': 'No such spot-check draw.',
    'spotPublic.open': 'Public page',
  },
});
