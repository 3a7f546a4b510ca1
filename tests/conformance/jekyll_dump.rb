# frozen_string_literal: true
#
# ruby jekyll_dump.rb SITE_DIR OUT_DIR [OVERRIDES_JSON]
#
# Builds SITE_DIR with the real Jekyll (Debian's jekyll 4.3.1 + ruby-jekyll-feed 0.17.0) through
# its Ruby API and writes:
#
#   OUT_DIR/_site/...      the built site, including jekyll-feed's feed.xml, feed/<category>.xml,
#                          feed/by_tag/<tag>.xml (whatever the site's `feed:` block configures)
#   OUT_DIR/posts.json     what Jekyll made of every post (see `post_record` below), the feed files
#                          written, the timing of each build phase, and the build error if any
#
# OVERRIDES_JSON, if given, is a JSON object merged over the site's _config.yml the way Jekyll merges
# command-line options (e.g. '{"permalink": "pretty"}').
#
# The source tree is never written to: the disk cache is disabled and the destination is OUT_DIR.
# Exit status: 0 built, 2 the build raised (posts.json still written, with "ok": false and the
# error; a Liquid syntax error or a bad front-matter date stops a real Jekyll build), 64 usage.

require "json"
require "time"
require "fileutils"

def usage!
  warn "usage: ruby #{File.basename(__FILE__)} SITE_DIR OUT_DIR [OVERRIDES_JSON]"
  exit 64
end

usage! unless [2, 3].include?(ARGV.length)
SITE_DIR = File.expand_path(ARGV[0])
OUT_DIR = File.expand_path(ARGV[1])
OVERRIDES = begin
  ARGV[2] ? JSON.parse(ARGV[2]) : {}
rescue JSON::ParserError => e
  warn "jekyll_dump: OVERRIDES_JSON is not JSON: #{e.message}"
  usage!
end
usage! unless OVERRIDES.is_a?(Hash)
usage! unless File.directory?(SITE_DIR)
FileUtils.mkdir_p(OUT_DIR)

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

timings = {}
started = now
t = now
begin
  require "jekyll"
rescue LoadError => e
  File.write(File.join(OUT_DIR, "posts.json"), JSON.pretty_generate(
    "ok" => false, "phase" => "require", "posts" => [], "timings" => {},
    "error" => { "class" => e.class.name, "message" => "#{e.message} (apt-get install jekyll ruby-jekyll-feed)" }
  ))
  warn "jekyll_dump: cannot load jekyll: #{e.message}"
  exit 2
end
timings["require"] = now - t

# Jekyll's LogAdapter keeps every message it prints (at or above its level) in `messages`:
# skipped future posts, excerpt fixes, Liquid warnings and errors. They go into posts.json "log".

def iso(time)
  return nil if time.nil?

  t = time.respond_to?(:to_time) ? time.to_time : time
  t.xmlschema
end

def epoch(time)
  return nil if time.nil?

  (time.respond_to?(:to_time) ? time.to_time : time).to_i
end

# Plain JSON for any front-matter value (Time/Date become ISO strings, drops their hash).
def plain(value)
  case value
  when nil, true, false, Integer, Float, String then value
  when Time then value.xmlschema
  when Date then value.iso8601
  when Array then value.map { |v| plain(v) }
  when Hash then value.to_h { |k, v| [k.to_s, plain(v)] }
  when Jekyll::Excerpt then { "jekyll_excerpt" => true }
  when Jekyll::Drops::Drop then plain(value.to_h)
  else value.to_s
  end
end

DATA_KEYS = %w(
  layout permalink published date last_modified_at description excerpt_separator
  render_with_liquid feed image lang author authors category categories tag tags slug ext
  draft id
).freeze

def excerpt_record(doc)
  ex = doc.data["excerpt"]
  case ex
  when Jekyll::Excerpt
    { "kind" => "generated", "source" => ex.content, "html" => (ex.output rescue "!! #{$!.class}: #{$!.message}") }
  when nil
    { "kind" => "none", "source" => nil, "html" => nil }
  else
    { "kind" => "front_matter", "source" => plain(ex), "html" => ex.to_s }
  end
end

def post_record(doc, site)
  data = doc.data
  {
    "relative_path" => doc.relative_path,
    "path" => doc.path.sub("#{site.source}/", ""),
    "url" => doc.url,
    "id" => doc.id,
    "absolute_url" => "#{site.config["url"]}#{site.baseurl}#{doc.url}",
    "date" => iso(doc.date),
    "date_epoch" => epoch(doc.date),
    # getutc, never utc: Time#utc converts the receiver in place, and Jekyll shares one Time per
    # date string between posts (Utils.parse_date's cache).
    "date_utc" => doc.date.to_time.getutc.xmlschema,
    "title" => data["title"].to_s,
    "slug" => data["slug"],
    "ext" => data["ext"],
    "output_ext" => (doc.output_ext rescue nil),
    # As Liquid prints them (Ruby's to_s), so the comparison needs no Ruby emulation.
    "categories" => data["categories"]&.map(&:to_s),
    "tags" => data["tags"]&.map(&:to_s),
    "description_s" => data["description"].to_s,
    "author" => plain(data["author"]),
    "draft" => doc.draft?,
    "excerpt_separator" => doc.excerpt_separator,
    "excerpt" => excerpt_record(doc),
    "content" => doc.content,
    "data" => DATA_KEYS.select { |k| data.key?(k) }.to_h { |k| [k, plain(data[k])] },
    "last_modified_at_xmlschema" => (iso(data["last_modified_at"]) if data["last_modified_at"].respond_to?(:to_time)),
  }
end

result = {
  "ok" => false,
  "site_dir" => SITE_DIR,
  "overrides" => OVERRIDES,
  "jekyll_version" => nil,
  "jekyll_feed_version" => nil,
  "ruby_version" => RUBY_VERSION,
  "timezone" => nil,
  "site_time" => nil,
  "phase" => nil,
  "error" => nil,
  "posts" => [],
  "pages_with_feed_paths" => [],
  "feeds" => [],
  "log" => [],
  "timings" => timings,
}

site = nil
begin
  result["jekyll_version"] = Jekyll::VERSION
  result["phase"] = "configuration"
  t = now
  config = Jekyll.configuration({
    "source" => SITE_DIR,
    "destination" => File.join(OUT_DIR, "_site"),
    "disable_disk_cache" => true,  # else Jekyll writes SITE_DIR/.jekyll-cache
    "incremental" => false,
  }.merge(OVERRIDES))
  timings["configuration"] = now - t
  Jekyll.logger.log_level = (ENV["JEKYLL_LOG_LEVEL"] || "warn").to_sym
  result["timezone"] = ENV["TZ"]

  result["phase"] = "setup"
  t = now
  site = Jekyll::Site.new(config)
  timings["setup"] = now - t
  begin
    result["jekyll_feed_version"] = JekyllFeed::VERSION
  rescue NameError
    result["jekyll_feed_version"] = nil
  end

  # Site#process is reset, read, generate, render, cleanup, write; run them one by one to time them.
  %w(reset read generate render cleanup write).each do |phase|
    result["phase"] = phase
    t = now
    site.public_send(phase)
    timings[phase] = now - t
  end
  result["site_time"] = site.time.xmlschema
  result["phase"] = "done"
  result["ok"] = true
rescue Exception => e # rubocop:disable Lint/RescueException -- report every failure in posts.json
  result["error"] = {
    "class" => e.class.name,
    "message" => e.message,
    "backtrace" => (e.backtrace || []).first(8),
  }
end

begin
  if site
    result["site_time"] ||= site.time&.xmlschema
    t = now
    result["posts"] = site.posts.docs.map do |doc|
      post_record(doc, site)
    rescue Exception => e # rubocop:disable Lint/RescueException
      { "relative_path" => doc.relative_path, "record_error" => "#{e.class}: #{e.message}" }
    end
    timings["dump_posts"] = now - t
    result["site_config"] = plain(site.config.slice(
      "url", "baseurl", "title", "description", "author", "timezone", "permalink", "lang",
      "excerpt_separator", "markdown_ext", "feed", "plugins", "future", "show_drafts"
    ))
    result["pages_with_feed_paths"] = site.pages.map(&:url).select { |u| u.start_with?("/feed") || u.end_with?(".xml") }
  end
  dest = File.join(OUT_DIR, "_site")
  if File.directory?(dest)
    result["feeds"] = Dir.glob("**/*.xml", base: dest).sort
  end
rescue Exception => e # rubocop:disable Lint/RescueException
  result["dump_error"] = "#{e.class}: #{e.message}"
end

result["log"] = Jekyll.logger.messages.dup
timings["total"] = now - started
File.write(File.join(OUT_DIR, "posts.json"), JSON.pretty_generate(result))
warn format("jekyll_dump: %<n>d posts, %<f>d feed files, %<s>.2fs%<e>s", n: result["posts"].length,
            f: result["feeds"].length, s: timings["total"],
            e: result["ok"] ? "" : " -- build FAILED in #{result["phase"]}: #{result.dig("error", "class")}")
exit(result["ok"] ? 0 : 2)
