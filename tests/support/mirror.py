"""Generate a synthetic js.people.com.cn mirror of any size, for benchmarks and soak tests.

The output has the layout of the reference mirror (``tests/fixtures/reference/site``), so
``tests.support.replay.ReplayServer`` serves it unchanged::

    OUT_DIR/MANIFEST.json        URL -> {"file", "status", "headers"}
    OUT_DIR/EXPECTED.json        ground truth, see below
    OUT_DIR/js.people.com.cn/robots.txt
    OUT_DIR/js.people.com.cn/GB/{column}/index.html, index1.html (the same), index2.html …
    OUT_DIR/js.people.com.cn/n2/{yyyy}/{mmdd}/c{column}-{article_id}[-{page}].html

Articles use the page skeletons of the reference mirror (header, dateline, body container,
editor line, sidebars), alternately the 2021– "rm_txt" template in UTF-8 and the
2016–2021 "text_title" template in GB18030 declaring GB2312, so the parser extracts them
with its templates, never the generic fallback. List pages run newest first; dates and
ids decrease down the list. Text is drawn with a seeded RNG from sentences of the
reference articles plus templated ones, so a mirror is a pure function of its arguments.
A few articles mention one of ``RARE_TERMS`` (Zipf-distributed: the first is the most
frequent), for search benchmarks that need rare as well as common terms.

``EXPECTED.json`` is the archive a crawl of the column must produce, in the shape of
``tests/fixtures/reference/expected/crawl_360300_gb.json``: ``{"column", "editions",
"articles", "failures"}`` with articles newest first (multi-page articles merged), plus
``"rare_terms"`` (term -> URLs of the articles containing it) and ``"generator"`` (the
parameters ``add_articles`` continues with).

CLI: ``python -m tests.support.mirror OUT_DIR --articles 5000`` builds a mirror;
``python -m tests.support.mirror OUT_DIR --add 50`` prepends 50 newer articles to it.
"""

from __future__ import annotations

import argparse
import json
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path
from random import Random
from string import Template
from typing import Any

HOST = "js.people.com.cn"
BEIJING = timezone(timedelta(hours=8))
#: publication time and id of the newest article of a freshly built mirror
NEWEST = datetime(2024, 6, 28, 17, 30, tzinfo=BEIJING)
NEWEST_ID = 40_900_000
TEMPLATES = ("rm_txt", "text_title")
ENCODINGS = {"rm_txt": "utf-8", "text_title": "gb18030"}
COLUMN_NAMES = {
    "360297": "江苏要闻", "360298": "评论", "360299": "舆情", "360300": "政治",
    "360301": "经济", "360302": "民生", "360303": "社会", "360307": "教育",
}
HTML_HEADERS = {"Content-Type": "text/html"}
ROBOTS_TXT = b"User-agent: *\nDisallow: /member/\n"

# ------------------------------------------------------------------ vocabulary

#: sentences of the reference articles' bodies
SENTENCES = (
    "全省住建系统各级党组织聚精会神抓党建的意识明显增强，工作成效在重点工作任务完成和机关作风"
    "转变上得到充分体现，2019年底有11个市的城管局在作风评议中跨入了第一方阵。",
    "坚持定期评选表彰先进基层党组织、优秀共产党员和优秀党务工作者，行业党建的引领效应得到不断放大。",
    "常州市的“三学四干一育”、南通市在建筑行业开展的党建“鲁班奖”争创，泰州市开展的“三化建设-"
    "红星评价”创建活动，连云港市大力培育的“智慧党建+”，苏州市的“海棠花红-红色系列”，一系列的"
    "特色品牌创建活动为服务住房城乡建设高质量发展提供了有力的组织保证。",
    "在物业管理服务方面，2019年还会同江苏省委组织部共同召开了党建引领物业管理服务现场会，联合"
    "印发了《关于以党建引领全面提升物业管理服务水平的指导意见》，共同开展行业党建工作示范点创建，"
    "不断推动点上经验向面上扩展。",
    "江苏省住房和城乡建设行业党委书记顾小平在会上说，这几年，在江苏省委组织部和“两新”工委的"
    "领导下，江苏省住房和城乡建设行业党委坚持围绕中心、建设队伍、服务群众，推动党建和业务深度"
    "融合、相互促进，积极探索和创新行业党建体制、机制。",
    "每年聚焦1-2个党建专题，分片区、分条线召开党建工作研讨座谈会，剖析工作难题、交流特色做法。",
    "围绕“落实党的十九大精神思路举措、党建工作特色品牌和党务业务深度融合”等专题，开展党建案例"
    "征集和评比。",
    "连续5年举办行业党委党务干部培训班，著力提升党务干部能力素质，积极推动互学互鉴互促，不断把"
    "基层党建创造的“小盆景”拓展为行业党建发展的“大风景”。",
    "从“建起来”走向“强起来”，江苏省住房和城乡建设行业党建工作五年在探索中推进，在推进中前行，"
    "工作成效得到了上级党组织的充分肯定，获得基层党员干部和群众的广泛认可。",
    "据介绍，五年来，江苏省住房和城乡建设行业党委坚持落实管党治党政治责任，努力构建行业党建大格局。",
    "顾小平最后指出，2021年是“十四五”规划的起步之年，江苏全省住房和城乡建设行业面临新的形势和任务。",
    "积极探索建立省市联动、条块结合的协作机制，研究制定《省住房和城乡建设行业党委工作意见》。",
    "坚持行业党建与业务工作目标同向、部署同步、工作同力，持续强化行业党建工作指导力度，不断彰显"
    "党建工作成效。",
    "要坚持不懈推进党的建设引领行业高质量发展，系统谋划美丽宜居城市建设、老旧小区改造、苏北农房"
    "改善等重点工作，著力提升城市功能品质、推进城市精细化管理。",
    "在此基础上，坚持宣传推广激励，持续扩大行业党建影响力。",
    "镇江市的“党建引领城建领域联盟”、盐城市围绕“四位一体”推进中介行业党建，淮安市组织“支部吹号-"
    "党员报到”活动等，各类党建载体的搭建有效激发了基层争先创优的内生动力。",
    "江苏省纪委监委驻江苏省住建厅纪检监察组坚持贯彻落实新时代党的建设总要求，采取强化政治监督、"
    "抓住两个责任、坚持问题导向、完善制度机制等措施，有力有序开展工作。",
    "与人民网合作开办了江苏省住房和城乡建设行业党建视窗，开辟了“书记论坛、基层党建、住建楷模、"
    "党建要闻”等宣传栏目。",
    "编发“弘扬劳模精神、推动高质量发展、党建特色品牌”等专刊，宣传推广各地党建工作特色做法。",
    "坚持激发基层创造活力，不断释放行业党建工作新动能。",
    "2015年9月，经江苏省委同意，江苏省委组织部批准成立江苏住房和城乡建设行业党委。",
    "坚持推进党务业务深度融合，不断激发行业党建工作生命力。",
    "2016年以来，先后总结推广了南通市房屋征收行业“两个覆盖”、全省住房公积金行业文明创建、泰州市"
    "城管行业党务业务服务“三务”融合、常州市物业服务行业“红色管家”“红星物业”等党建工作特色做法。",
    "徐州市在城管行业开展了“以案明纪月月谈”活动，宿迁市率先在住房公积金行业将警示教育课纳入支部"
    "“三会一课”等，让抓党风廉政建设的方式方法更加务实鲜活。",
    "推动行业党委从“建起来”走向“强起来”，行业党建从有形覆盖走向有效覆盖。",
    # 喆 is outside GB2312: GB18030 pages declaring GB2312 carry it, as on the real site
    "近日，南京市鼓楼区“红色物业”服务团负责人王喆带领党员志愿者走进湖南路街道老旧小区，为居民"
    "检修水电、清理楼道。",
    "服务团成立以来已累计解决居民急难愁盼问题三百余件。",
)
#: sentences with slots, filled from the lists below
SENTENCE_FRAMES = (
    "{city}市{sector}系统把党建工作与业务工作同谋划、同部署、同考核，推动{task}取得新进展。",
    "今年以来，{city}市围绕“{brand}”品牌建设，组织党员志愿者深入一线，帮助群众解决急难愁盼问题"
    "{num}余件。",
    "{city}市{sector}行业党委有关负责同志表示，下一步将继续深化“{theme}”主题活动，推动党建工作与"
    "{task}深度融合。",
    "截至目前，{city}市{sector}行业已建立基层党组织{num}个，实现党的组织和工作有效覆盖。",
    "活动中，{city}市{sector}系统各基层党支部结合自身实际，开展了形式多样的“{theme}”学习交流活动。",
    "据了解，{city}市在{task}中设立党员先锋岗{num}个，让党旗在一线高高飘扬。",
    "{city}市{sector}系统广大党员干部纷纷表示，要以更加饱满的热情投入{task}，以实际行动践行初心使命。",
    "会议要求，各级党组织要把“{theme}”贯穿{task}全过程，切实把党建优势转化为发展优势。",
)
TITLE_FRAMES = (
    "{city}{sector}行业党建工作推进会召开",
    "{city}{sector}系统开展“{theme}”主题党日活动",
    "{city}：“{brand}”党建品牌建设见实效",
    "{city}{sector}党建联盟再添新成员",
    "{city}召开{sector}行业党风廉政建设会议",
    "党建引领{task} {city}交出亮眼答卷",
    "{city}{sector}系统党务干部培训班开班",
    "{city}推进“{brand}”先锋阵地建设",
    "{city}：党员先锋岗助力{task}",
)
CITIES = ("南京", "无锡", "徐州", "常州", "苏州", "南通", "连云港", "淮安", "盐城", "扬州", "镇江",
          "泰州", "宿迁")
SECTORS = ("住建", "城管", "物业服务", "住房公积金", "建筑业", "房屋征收", "房地产中介", "燃气")
THEMES = ("不忘初心、牢记使命", "党建强则行业强", "大走访大落实", "我为群众办实事",
          "支部吹号、党员报到", "以案明纪月月谈")
BRANDS = ("红色管家", "红星物业", "海棠花红", "智慧党建+", "三学四干一育", "党建鲁班奖", "红色物业",
          "先锋工地")
TASKS = ("老旧小区改造", "城市更新", "物业管理服务", "苏北农房改善", "城市精细化管理",
         "美丽宜居城市建设", "保障性住房建设", "垃圾分类")
#: terms found in no other sentence, most frequent first
RARE_TERMS = (
    "紫金山实验室", "大运河文化带", "洪泽湖湿地", "沙家浜红色教育基地", "雨花台烈士陵园",
    "茅山新四军纪念馆", "黄桥战役纪念馆", "周恩来纪念馆", "云锦织造技艺", "宜兴紫砂", "昆曲传承",
    "海门山歌", "高淳老街", "盱眙龙虾节", "阳澄湖大闸蟹", "碳普惠平台", "太湖蓝藻治理",
    "骆马湖生态修复", "徐圩新区", "溧阳一号公路", "淮剧进社区", "黄海湿地", "泰州早茶", "镇江香醋",
)
RARE_FRAMES = (
    "会上，与会同志还围绕{term}相关工作进行了交流。",
    "活动期间，党员志愿者专程前往{term}开展现场学习。",
    "下一步，还将把{term}纳入党建共建重点项目统筹推进。",
)
#: share of articles mentioning a rare term
RARE_RATE = 0.08
#: terms in most articles, for the other end of a search benchmark
COMMON_TERMS = ("党建", "党组织", "住房和城乡建设", "高质量发展")
PRETITLES = ("喜迎二十大", "奋进新征程 建功新时代", "学习贯彻党的二十大精神", "我为群众办实事")
EDITORS = ("张鑫", "唐璐璐", "高雨", "徐倩", "王婧", "李栋", "周宇")
# 堃 is outside GB2312, like 喆 above.
REPORTERS = ("李明", "陈洁", "苏建宣", "王慧", "赵婧", "孙晓东", "刘堃", "吴楠")
PLAIN_SOURCES = ("新华日报", "扬子晚报", "交汇点新闻", "江苏经济报")
PEOPLE_SOURCE = "人民网-江苏频道"

# ------------------------------------------------------------------ page skeletons

# Copied from the reference pages (n2/2021/0908/c360300-34401096.html,
# n2/2020/1019/c360300-34359164.html, GB/360300/index2.html) with the article's
# parts replaced by $placeholders.
RM_TXT_PAGE = Template("""\
<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Language" content="utf-8" />
<meta content="all" name="robots" />
<title>$title--江苏频道--人民网 </title>
<meta name="keywords" content="" />
<meta name="description" content="$description" />
<meta name="copyright" content="人民网版权所" />
<meta name="filetype" content="0" />
<meta name="publishedtype" content="1" />
<meta name="pagetype" content="1" />
<meta name="catalogs" content="$column" />
<meta name="contentid" content="$article_id" />
<meta name="publishdate" content="$date" />
<meta name="author" content="104$tail" />
<meta name="editor" content="1$tail" />
<meta name="source" content="来源：$source" />
<meta name="sourcetype" content="2" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="//www.people.com.cn/img/2020wbc/css/page_new.css">
<script src="//tools.people.com.cn/libs/jquery/1.11.3/jquery-1.11.3.min.js"></script>
</head>
<body>
<div class="main">
  <div class="rm_nav cf" id="rm_topnav">
    <div class="layout rm_nav_con cf">$nav</div>
  </div>
  <div class="layout rm_txt cf">
    <div class="col col-1 fl">
      <div class="route-nav"><a href="http://www.people.com.cn/">人民网</a>&gt;&gt;<a href="http://js.people.com.cn/">江苏频道</a>&gt;&gt;<a href="http://js.people.com.cn/GB/$column/">$column_name</a></div>
      <h3 class="pre">$pretitle</h3>
      <h1>$title</h1>
      <h4 class="sub">$subtitle</h4>
      <p class="author">$author</p>
      <div class="channel cf">
        <div class="col-1-1 fl">$dateline</div>
        <div class="col-1-2 fr"><span>分享到：</span><div class="share"></div></div>
      </div>
      <div class="rm_txt_con cf">

$body
        <div class="edit cf">(责编：$editors)</div>
      </div>
      <div class="rm_relevant cf"><div class="title">相关新闻</div><ul></ul></div>
    </div>
    <div class="col col-2 fr">
      <div class="rm_box"><div class="title"><a href="http://js.people.com.cn/GB/360297/">江苏要闻</a></div><ul class="list"></ul></div>
      <div class="rm_box"><a href="http://liuyan.people.com.cn/" target="_blank">给领导留言</a></div>
    </div>
  </div>
  <div class="rm_footer"><p>人民网版权所有，未经书面授权禁止使用</p><p>Copyright &copy; 1997-2024 by www.people.com.cn. all rights reserved</p></div>
</div>
<script src="//www.people.com.cn/img/2020wbc/js/rmw_common.js"></script>
</body>
</html>
""")  # noqa: E501
TEXT_TITLE_PAGE = Template("""\
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="content-type" content="text/html;charset=GB2312"/>
<meta http-equiv="Content-Language" content="utf-8" />
<meta content="all" name="robots" />
<title>$title--江苏频道--人民网 </title>
<meta name="keywords" content="" />
<meta name="description" content="$description" />
<meta name="copyright" content="人民网版权所" />
<meta name="filetype" content="0" />
<meta name="publishedtype" content="1" />
<meta name="pagetype" content="1" />
<meta name="catalogs" content="$column" />
<meta name="contentid" content="$article_id" />
<meta name="publishdate" content="$date" />
<meta name="author" content="104$tail" />
<meta name="editor" content="1$tail" />
<meta name="source" content="来源：$source" />
<meta name="sourcetype" content="2" />
<meta http-equiv="X-UA-Compatible" content="IE=EmulateIE7" />
<link rel="stylesheet" href="http://www.people.com.cn/img/2016wb/page2018.css" type="text/css" media="all" charset="utf-8" />
<script type="text/javascript" src="http://tools.people.com.cn/libs/jquery/1.7.1/jquery-1.7.1.min.js"></script>
<script type="text/javascript" src="http://www.people.com.cn/img/2016wb/main.js" charset="utf-8"></script>
</head>
<body>
<!--top-->
<div class="top_nav clearfix">
   <div class="w1000_320 white pos_re_login">
      <div class="fl" id="rwb_nav">$nav</div>
      <div class="fr"><div id="txz_dlq"><a id="login_button">登录</a><a href="http://sso.people.com.cn/u/reg" target="_blank">注册</a></div></div>
   </div>
</div>
<!--top end-->
<div class="clearfix w1000_320 path path2 pos_re_search">
   <div class="fl">
   <span id="rwb_navpath"><a href="http://www.people.com.cn/" class="clink">人民网</a>&gt;&gt;<a href="http://js.people.com.cn/" class="clink">江苏频道</a>&gt;&gt;<a href="http://js.people.com.cn/GB/$column/" class="clink">$column_name</a></span>
   </div>
</div>
<!--text_title-->
<div class="clearfix w1000_320 text_title">
	<h3 class="pre">$pretitle</h3>
	<h1>$title</h1>
	<h4 class="sub">$subtitle</h4>
    <p class="author">$author</p>
   <div class="box01">
      <div class="fl">$dateline</div>
      <div class="fr">
         <div class="fx"><div id="ops_share"></div></div>
         <div class="message" id="rwb_bbstop"><a href="http://bbs1.people.com.cn/postLink.do?nid=$article_id" target="_blank"><img src="http://www.people.com.cn/img/2016wb/images/icon04.jpg" width="29" height="23" /></a>&nbsp;</div>
      </div>
   </div>
</div>
<!--text_title end-->
<!--text_con-->
<div class="clearfix w1000_320 text_con">
   <!--text left-->
   <div class="fl text_con_left">
      <div class="box_con" id="rwb_zw">
        <div class="box_pic"></div>
$body
        <div class="box_pic"></div>
        <div class="edit clearfix">(责编：$editors)</div>
      </div>
      <div class="box_down clearfix">
        <div class="fl"><span id="rwb_khd"><a href="http://www.people.com.cn/GB/123231/365206/index.html" target="_blank">人民日报客户端下载</a></span></div>
      </div>
      <div id="rwb_tjyd">
       <div class="clearfix box_read">
          <h2>推荐阅读</h2><div class="hdNews clearfix">
<p><img src="/NMediaFile/2020/0107/MAIN202001071514322886618599209.png" width="215" height="145" border="0" alt="" /><strong><a href="http://culture.people.com.cn/GB/422496/index.html" target="_blank">致敬改革开放四十年，文化大家讲述亲历</a></strong>一个时代有一个时代的文艺，一个时代有一个时代的精神。邀请改革开放以来当代中国最具代表性的文化艺术大家，分享其求艺之路的艺术探索与思想感悟，讲述他们亲历的变革与发展，记录一个时代的文化记忆。<a href="http://culture.people.com.cn/GB/422496/index.html" target="_blank">【详细】</a></p>
</div>
       </div>
      </div>
   </div>
   <!--text right-->
   <div class="fr text_con_right">
      <div class="ej_right"><h2><a href="http://js.people.com.cn/GB/360297/">江苏要闻</a></h2><ul><li><a href="http://js.people.com.cn/n2/2020/1019/c360297-34359088.html" target="_blank">全省住房城乡建设工作推进会召开</a></li><li><a href="http://js.people.com.cn/n2/2020/1018/c360297-34357001.html" target="_blank">江苏推进老旧小区改造</a></li></ul></div>
      <div class="ej_right"><a href="http://liuyan.people.com.cn/" target="_blank">给领导留言</a></div>
   </div>
</div>
<!--text_con end-->
<div class="w1000 copyright">人民网版权所有，未经书面授权禁止使用<br />Copyright &copy; 1997-2024 by www.people.com.cn. all rights reserved</div>
<script type="text/javascript">var _hmt = _hmt || [];(function() { var hm = document.createElement("script"); hm.src = "//hm.baidu.com/hm.js?9d1f6d12e2e4e1"; })();</script>
</body>
</html>
""")  # noqa: E501
LIST_PAGE = Template("""\
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="content-type" content="text/html;charset=GB2312"/>
<title>$column_name--江苏频道--人民网</title>
<link href="/img/2016js/css/list.css" type="text/css" rel="stylesheet" />
</head>
<body>
<div class="w1000 ej_nav clearfix"><a href="http://js.people.com.cn/">江苏频道</a><a href="http://js.people.com.cn/GB/360297/index.html">江苏要闻</a><a href="http://js.people.com.cn/GB/360300/index.html">政治</a><a href="http://www.people.com.cn/">人民网</a></div>
<div class="w1000 clearfix">
  <div class="fl ej_left">
    <div class="ej_title"><h2>$column_name</h2></div>
    <ul class="list_16 mt10">
$items    </ul>
    <div class="page_n clearfix">$pager</div>
  </div>
  <div class="fr ej_right"><h3>热点推荐</h3><ul><li><a href="http://politics.people.com.cn/n1/2020/1019/c1024-31896915.html">中央新闻</a></li><li><a href="http://js.people.com.cn/n2/2020/1018/c360297-34357001.html" target="_blank">省内要闻一则</a></li></ul></div>
</div>
<div class="w1000 copyright">人民网版权所有，未经书面授权禁止使用</div>
</body>
</html>
""")  # noqa: E501
_NAV_LINK = '<a href="http://www.people.com.cn/" target="_blank">{}</a>'
_NAV_NAMES = ("网站首页", "时政", "国际", "财经", "台湾", "军事", "观点", "领导", "人事",
              "理论", "法治", "社会", "产经", "教育", "科普", "体育", "文化", "书画", "房产",
              "汽车", "旅游", "健康", "视频")
RM_TXT_NAV = "".join(_NAV_LINK.format(name) for name in _NAV_NAMES[:12])
TEXT_TITLE_NAV = "".join(_NAV_LINK.format(name) for name in _NAV_NAMES)


# ------------------------------------------------------------------ articles


@dataclass(frozen=True)
class Article:
    article_id: int
    column: str
    published: datetime
    template: str
    title: str
    pretitle: str
    subtitle: str
    #: the ``p.author`` line, e.g. "记者 李明 通讯员 刘堃"
    author_line: str
    authors: tuple[str, ...]
    #: as printed in the dateline ("人民网－江苏频道" with a full-width dash on some pages)
    source: str
    source_linked: bool
    editors: tuple[str, ...]
    #: paragraphs of each page
    pages: tuple[tuple[str, ...], ...]

    def path(self, page: int = 1) -> str:
        suffix = "" if page == 1 else f"-{page}"
        day = self.published
        return (f"/n2/{day.year}/{day.month:02d}{day.day:02d}"
                f"/c{self.column}-{self.article_id}{suffix}.html")

    def url(self, page: int = 1) -> str:
        return f"http://{HOST}{self.path(page)}"

    def record(self) -> dict[str, Any]:
        """The article as the archive must hold it (the pages merged)."""
        return {
            "url": self.url(),
            "article_id": str(self.article_id),
            "column_id": self.column,
            "edition": "gb",
            "page_count": len(self.pages),
            "title": self.title,
            "pretitle": self.pretitle,
            "subtitle": self.subtitle,
            "published_at": self.published.isoformat(),
            "source": unicodedata.normalize("NFKC", self.source),
            "source_url": f"http://{HOST}/" if self.source_linked else None,
            "editors": list(self.editors),
            "authors": list(self.authors),
            "photographers": [],
            "body": [paragraph for page in self.pages for paragraph in page],
            "images": [],
        }


def _fill(rng: Random, frame: str) -> str:
    return frame.format(city=rng.choice(CITIES), sector=rng.choice(SECTORS),
                        theme=rng.choice(THEMES), brand=rng.choice(BRANDS),
                        task=rng.choice(TASKS), num=rng.randint(12, 980))


def _paragraphs(rng: Random) -> list[str]:
    """4–10 paragraphs, 1.5–4 KB of UTF-8 text in all, no sentence twice."""
    count = rng.randint(4, 10)
    # The last sentence overshoots the budget by up to ~450 bytes.
    budget = rng.randint(1500, 3600)
    sentences: list[list[str]] = [[] for _ in range(count)]
    used: set[str] = set()
    size = 0
    while size < budget or not all(sentences):
        sentence = (rng.choice(SENTENCES) if rng.random() < 0.6
                    else _fill(rng, rng.choice(SENTENCE_FRAMES)))
        if sentence in used:
            continue
        used.add(sentence)
        empty = [i for i, paragraph in enumerate(sentences) if not paragraph]
        sentences[empty[0] if empty else rng.randrange(count)].append(sentence)
        size += len(sentence.encode())
    paragraphs = ["".join(paragraph) for paragraph in sentences]
    if rng.random() < RARE_RATE:
        weights = [1 / rank for rank in range(1, len(RARE_TERMS) + 1)]
        term = rng.choices(RARE_TERMS, weights)[0]
        where = rng.randrange(count)
        paragraphs[where] += rng.choice(RARE_FRAMES).format(term=term)
    return paragraphs


def _split(rng: Random, paragraphs: list[str], pages: int) -> tuple[tuple[str, ...], ...]:
    cuts = [0, *sorted(rng.sample(range(1, len(paragraphs)), pages - 1)), len(paragraphs)]
    return tuple(tuple(paragraphs[a:b]) for a, b in zip(cuts, cuts[1:], strict=False))


def make_article(rng: Random, serial: int, article_id: int, published: datetime, column: str,
                  multi_page_every: int) -> Article:
    """The ``serial``-th article generated for a mirror: its template alternates with
    ``serial``, and every ``multi_page_every``-th one spans 2 or 3 pages."""
    title = _fill(rng, rng.choice(TITLE_FRAMES))
    pretitle = rng.choice(PRETITLES) if rng.random() < 0.1 else ""
    subtitle = (f"——{rng.choice(CITIES)}{rng.choice(SECTORS)}系统基层党组织建设观察"
                if rng.random() < 0.08 else "")
    authors: tuple[str, ...] = ()
    author_line = ""
    roll = rng.random()
    if roll < 0.35:
        authors = tuple(rng.sample(REPORTERS, 1 if roll < 0.25 else 2))
        author_line = " ".join(f"{role} {name}" for role, name in zip(("记者", "通讯员"), authors,
                                                                        strict=False))
    template = TEMPLATES[serial % len(TEMPLATES)]
    if rng.random() < 0.75:
        source, linked = PEOPLE_SOURCE, True
        if template == "rm_txt" and rng.random() < 0.5:
            source = "人民网－江苏频道"
    else:
        source, linked = rng.choice(PLAIN_SOURCES), False
    editors = tuple(rng.sample(EDITORS, rng.choice((1, 2, 2))))
    paragraphs = _paragraphs(rng)
    multi = multi_page_every > 0 and serial % multi_page_every == multi_page_every - 1
    pages = _split(rng, paragraphs, rng.choice((2, 3))) if multi else (tuple(paragraphs),)
    return Article(article_id, column, published, template, title, pretitle, subtitle,
                   author_line, authors, source, linked, editors, pages)


# ------------------------------------------------------------------ rendering


def _article_pager(article: Article, page: int) -> str:
    total = len(article.pages)
    if article.template == "text_title":
        links = "".join(f'<a href="{article.path(n)}">【{n}】</a>' for n in range(1, total + 1))
        return f'<div class="zdfy clearfix">{links}</div>'
    parts = [f'<a href="{article.path(page - 1)}">上一页</a>'] if page > 1 else []
    parts += [f"<span>{n}</span>" if n == page else f'<a href="{article.path(n)}">{n}</a>'
              for n in range(1, total + 1)]
    if page < total:
        parts.append(f'<a href="{article.path(page + 1)}" class="next">下一页</a>')
    return f'<div class="page_n cf">{"".join(parts)}</div>'


def render_article(article: Article, page: int = 1) -> bytes:
    """The bytes served for page ``page`` of ``article``."""
    paragraphs = article.pages[page - 1]
    body = "".join(f'<p style="text-indent: 2em;">\n\t{escape(p, quote=False)}</p>\n'
                   for p in paragraphs)
    if len(article.pages) > 1:
        body += _article_pager(article, page) + "\n"
    source = escape(article.source, quote=False)
    if article.source_linked:
        source = f'<a href="http://{HOST}/" target="_blank">{source}</a>'
    day = article.published
    stamp = f"{day.year}年{day.month:02d}月{day.day:02d}日{day.hour:02d}:{day.minute:02d}"
    rm_txt = article.template == "rm_txt"
    html = (RM_TXT_PAGE if rm_txt else TEXT_TITLE_PAGE).substitute(
        nav=RM_TXT_NAV if rm_txt else TEXT_TITLE_NAV,
        title=escape(article.title, quote=False),
        description=escape("".join(paragraphs)[:60]),
        column=article.column,
        column_name=COLUMN_NAMES.get(article.column, "江苏频道"),
        article_id=article.article_id,
        date=f"{day.year}-{day.month:02d}-{day.day:02d}",
        tail=f"{article.article_id % 1000:03d}",
        source=escape(article.source),
        pretitle=escape(article.pretitle, quote=False),
        subtitle=escape(article.subtitle, quote=False),
        author=escape(article.author_line, quote=False),
        dateline=f"{stamp} | 来源：{source}" if rm_txt else f"{stamp}&nbsp;&nbsp;来源：{source}",
        body=body,
        editors="、".join(article.editors),
    )
    return html.encode(ENCODINGS[article.template])


def _list_href(page: int) -> str:
    return f"index{page}.html"


def _list_pager(page: int, total: int) -> str:
    """The ``div.page_n`` links of list page ``page``, as on the reference list pages:
    at most ten page numbers around the current one."""
    parts = []
    if page > 1:
        previous = "index.html" if page == 2 else _list_href(page - 1)
        parts += [f'<a href="{_list_href(1)}">首页</a>', f'<a href="{previous}">上一页</a>']
    first = max(1, min(page - 4, total - 9))
    for n in range(first, min(total, first + 9) + 1):
        parts.append(f"<span>{n}</span>" if n == page else f'<a href="{_list_href(n)}">{n}</a>')
    if page < total:
        parts += [f'<a href="{_list_href(page + 1)}">下一页</a>',
                  f'<a href="{_list_href(total)}">尾页</a>']
    return "".join(parts)


def render_list_page(column: str, records: Sequence[dict[str, Any]], page: int,
                     per_page: int) -> bytes:
    """List page ``page`` (1-based) of ``records`` (newest first)."""
    total = max(1, math.ceil(len(records) / per_page))
    items = "".join(
        f"<li><a href='{record['url'].removeprefix(f'http://{HOST}')}' target=_blank>"
        f"{escape(record['title'], quote=False)}</a><em>{record['published_at'][:10]}</em></li>\n"
        for record in records[(page - 1) * per_page: page * per_page]
    )
    html = LIST_PAGE.substitute(column_name=COLUMN_NAMES.get(column, "江苏频道"), items=items,
                                pager=_list_pager(page, total))
    return html.encode("gb18030")


# ------------------------------------------------------------------ the mirror on disk


def _write(site_dir: Path, url: str, body: bytes, manifest: dict[str, Any],
           content_type: str = "text/html", file: str | None = None) -> None:
    file = file or url.split("://", 1)[1]
    target = site_dir / file
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    manifest[url] = {"file": file, "headers": {"Content-Type": content_type}, "status": 200}


def _write_article(site_dir: Path, article: Article, manifest: dict[str, Any]) -> None:
    for page in range(1, len(article.pages) + 1):
        _write(site_dir, article.url(page), render_article(article, page), manifest)


def _write_lists(site_dir: Path, column: str, records: Sequence[dict[str, Any]], per_page: int,
                 manifest: dict[str, Any]) -> None:
    base = f"http://{HOST}/GB/{column}/"
    total = max(1, math.ceil(len(records) / per_page))
    first = render_list_page(column, records, 1, per_page)
    _write(site_dir, base + "index.html", first, manifest)
    _write(site_dir, base + "index1.html", first, manifest)
    manifest[base] = manifest[base + "index.html"]
    for page in range(2, total + 1):
        _write(site_dir, f"{base}index{page}.html",
               render_list_page(column, records, page, per_page), manifest)


def _save(site_dir: Path, manifest: dict[str, Any], records: list[dict[str, Any]],
          generator: dict[str, Any]) -> None:
    rare = {term: [r["url"] for r in records if any(term in p for p in r["body"])]
            for term in RARE_TERMS}
    expected = {"column": generator["column"], "editions": ["gb"], "articles": records,
                "failures": [], "rare_terms": rare, "generator": generator}
    (site_dir / "MANIFEST.json").write_text(
        json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False), "utf-8")
    (site_dir / "EXPECTED.json").write_text(
        json.dumps(expected, indent=1, ensure_ascii=False), "utf-8")


def build_mirror(out_dir: Path, n_articles: int, column: str = "360300", per_list_page: int = 20,
                 seed: int = 0, multi_page_every: int = 0) -> Path:
    """Write a mirror of ``n_articles`` articles of ``column`` into ``out_dir``; return it.

    ``multi_page_every=k`` makes every k-th article span 2 or 3 pages (0: none).
    """
    if n_articles < 0 or per_list_page < 1 or multi_page_every < 0:
        raise ValueError("n_articles and multi_page_every must be >= 0, per_list_page >= 1")
    site_dir = Path(out_dir)
    site_dir.mkdir(parents=True, exist_ok=True)
    rng = Random(seed)
    manifest: dict[str, Any] = {}
    _write(site_dir, f"http://{HOST}/robots.txt", ROBOTS_TXT, manifest, "text/plain")
    published = NEWEST
    article_id = max(NEWEST_ID, 51 * n_articles)  # ids stay positive going down the list
    records = []
    for serial in range(n_articles):
        article = make_article(rng, serial, article_id, published, column, multi_page_every)
        _write_article(site_dir, article, manifest)
        records.append(article.record())
        published -= timedelta(minutes=rng.randint(30, 1440))
        article_id -= rng.randint(1, 50)
    _write_lists(site_dir, column, records, per_list_page, manifest)
    _save(site_dir, manifest, records, {"column": column, "per_list_page": per_list_page,
                                        "seed": seed, "multi_page_every": multi_page_every})
    return site_dir


def add_articles(site_dir: Path, n: int, seed: int | None = None) -> list[str]:
    """Publish ``n`` articles newer than any in the mirror at ``site_dir``: write them,
    push the others down the rewritten list pages, update MANIFEST.json and EXPECTED.json.

    Returns the new articles' URLs, newest first. ``seed`` defaults to the mirror's;
    either way the RNG also depends on the current size, so successive calls differ.
    A running ReplayServer sees the change after ``reload()``.
    """
    site_dir = Path(site_dir)
    expected = json.loads((site_dir / "EXPECTED.json").read_text("utf-8"))
    manifest = json.loads((site_dir / "MANIFEST.json").read_text("utf-8"))
    generator = expected["generator"]
    records: list[dict[str, Any]] = expected["articles"]
    rng = Random(f"{generator['seed'] if seed is None else seed}:{len(records)}")
    published, article_id = NEWEST, NEWEST_ID
    if records:
        published = datetime.fromisoformat(records[0]["published_at"])
        article_id = int(records[0]["article_id"])
    new: list[Article] = []
    for serial in range(len(records), len(records) + n):
        published += timedelta(minutes=rng.randint(30, 1440))
        article_id += rng.randint(1, 50)
        article = make_article(rng, serial, article_id, published, generator["column"],
                                generator["multi_page_every"])
        _write_article(site_dir, article, manifest)
        new.insert(0, article)
    records = [article.record() for article in new] + records
    _write_lists(site_dir, generator["column"], records, generator["per_list_page"], manifest)
    _save(site_dir, manifest, records, generator)
    return [article.url() for article in new]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--articles", type=int, default=1000, help="articles to build")
    parser.add_argument("--column", default="360300")
    parser.add_argument("--per-list-page", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--multi-page-every", type=int, default=0)
    parser.add_argument("--add", type=int, metavar="N",
                        help="instead of building, prepend N newer articles to the mirror")
    args = parser.parse_args(argv)
    if args.add is not None:
        urls = add_articles(args.out_dir, args.add)
        print(f"added {len(urls)} articles to {args.out_dir}")
        return
    site_dir = build_mirror(args.out_dir, args.articles, args.column, args.per_list_page,
                            args.seed, args.multi_page_every)
    print(f"built {args.articles} articles into {site_dir}")


if __name__ == "__main__":
    main()
