// Interface text of the public spot-check page (/spot-checks/{id}, 双随机抽查结果公示).

import { addStrings } from './i18n.js';

addStrings({
  zh: {
    'spot.title': '双随机抽查结果公示',
    'spot.region': '抽查地区',
    'spot.period': '抽查周期',
    'spot.seed': '随机种子',
    'spot.method': '抽取方法',
    'spot.drawnAt': '抽取时间',
    'spot.targets': '抽查对象',
    'spot.inspectors': '执法检查人员',
    'spot.unit': '企业名称',
    'spot.code': '统一社会信用代码',
    'spot.assigned': '检查人员',
    'spot.name': '姓名',
    'spot.xlsx': '下载 XLSX',
    'spot.note': '本次抽取的随机种子与对象库、检查人员库均已存档，任何人可据此复核抽取结果。',
    'spot.missing': '未找到该抽查结果。',
  },
  en: {
    'spot.title': 'Random spot-check draw (published)',
    'spot.region': 'Region',
    'spot.period': 'Period',
    'spot.seed': 'Random seed',
    'spot.method': 'Method',
    'spot.drawnAt': 'Drawn at',
    'spot.targets': 'Enterprises drawn',
    'spot.inspectors': 'Inspectors',
    'spot.unit': 'Enterprise',
    'spot.code': 'Credit code',
    'spot.assigned': 'Inspectors',
    'spot.name': 'Name',
    'spot.xlsx': 'Download XLSX',
    'spot.note': 'The seed and the pools of this draw are stored: anyone can reproduce it.',
    'spot.missing': 'No such spot-check draw.',
  },
});
