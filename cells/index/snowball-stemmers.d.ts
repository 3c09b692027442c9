// Types for npm snowball-stemmers 0.6.0, which ships none: the calls analyzer.ts makes.
declare module "snowball-stemmers" {
  interface Stemmer {
    stem(word: string): string;
  }
  const snowball: { newStemmer(language: string): Stemmer; algorithms(): string[] };
  export default snowball;
}
